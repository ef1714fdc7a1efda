from __future__ import annotations

from pathlib import Path

import pytest

from qa.runtime import Runtime
from qa.types import Answer
from ui.format import EMPTY_PANEL, answer_text

gr = pytest.importorskip("gradio")

from ui.app import build_blocks, make_respond, with_saving  # noqa: E402


def test_answer_streams_in_then_fills_the_panel(runtime: Runtime) -> None:
    outputs = list(make_respond(runtime.chain)("Who is the U.S. Secretary of State?", []))
    assert len(outputs) == 3
    for message, panel in outputs[:-1]:
        assert "qa-pending" in message and "qa-cite" not in message
        assert isinstance(panel, type(gr.skip()))
    message, panel = outputs[-1]
    assert answer_text(message) == "Antony Blinken is the U.S. Secretary of State. [1]"
    assert 'class="qa-cite qa-n-1"' in message and "searched for: Who is the U.S. Secretary of State?" in message
    assert '<mark class="qa-quote">Antony Blinken is the U.S. Secretary of State.</mark>' in panel


def test_follow_up_uses_the_chat_history(runtime: Runtime) -> None:
    respond = make_respond(runtime.chain)
    first, _ = list(respond("Who is Wang Yi?", []))[-1]
    history = [{"role": "user", "content": "Who is Wang Yi?"}, {"role": "assistant", "content": first}]
    message, _ = list(respond("Whom did he call?", history))[-1]
    searched = message.split("searched for: ")[1].split("</div>")[0]
    assert searched != "Whom did he call?"
    assert searched == runtime.chain.ask("Whom did he call?", [history[0], {"role": "assistant", "content": answer_text(first) or ""}]).standalone_question


def test_refusal_shows_closest_passages(runtime: Runtime) -> None:
    message, panel = list(make_respond(runtime.chain)("unanswerable: who is Blinken?", []))[-1]
    assert "qa-refused" in message and "closest passages" in message
    assert "Closest passages" in panel


@pytest.mark.parametrize("question, says", [("   ", "question is empty"), ("x" * 2001, "the limit is 2000")])
def test_rejected_question_is_shown_in_the_chat(runtime: Runtime, question: str, says: str) -> None:
    outputs = list(make_respond(runtime.chain)(question, []))
    assert len(outputs) == 1
    message, panel = outputs[0]
    assert "qa-error" in message and says in message
    assert isinstance(panel, type(gr.skip()))


def test_blocks_offer_examples_and_a_chat_endpoint(runtime: Runtime) -> None:
    blocks = build_blocks(runtime.chain, examples=["What is it?"])
    assert "chat" in {fn.api_name for fn in blocks.fns.values()}
    config = blocks.get_config_file()
    chatbots = [c for c in config["components"] if c["type"] == "chatbot"]
    assert chatbots[0]["props"]["examples"] == [{"text": "What is it?"}]
    html = [c for c in config["components"] if c["type"] == "html"]
    assert html[0]["props"]["value"] == EMPTY_PANEL


def test_blocks_save_conversations_and_offer_thumbs_when_feedback_is_logged(runtime: Runtime, tmp_path: Path) -> None:
    from ui.feedback import FeedbackLog

    config = build_blocks(runtime.chain, feedback=FeedbackLog(tmp_path / "feedback.jsonl")).get_config_file()
    chatbot = next(c for c in config["components"] if c["type"] == "chatbot")
    assert chatbot["props"]["feedback_options"] == ["Like", "Dislike"]
    assert any(c["props"].get("elem_id") == "qa-history" for c in config["components"]), "the CSS widens the saved list by this id"
    (saved,) = [c for c in config["components"] if c["type"] == "browserstate"]
    assert saved["props"]["storage_key"] == "qa-conversations", "conversations are kept in the browser under a fixed key"
    again = build_blocks(runtime.chain).get_config_file()
    (saved_again,) = [c for c in again["components"] if c["type"] == "browserstate"]
    assert saved_again["props"]["secret"] == saved["props"]["secret"], "a restarted server still reads them"
    assert any(t[1] == "like" for d in config["dependencies"] for t in d["targets"])
    plain = build_blocks(runtime.chain).get_config_file()
    assert not next(c for c in plain["components"] if c["type"] == "chatbot")["props"].get("feedback_options")


def test_like_writes_the_rated_answer_and_a_bad_rating_is_reported(runtime: Runtime, tmp_path: Path) -> None:
    import json

    from ui.app import make_on_like
    from ui.feedback import FeedbackLog

    path = tmp_path / "feedback.jsonl"
    message, _ = list(make_respond(runtime.chain)("Who is the U.S. Secretary of State?", []))[-1]
    messages = [{"role": "user", "content": "Who is the U.S. Secretary of State?"}, {"role": "assistant", "content": message}]
    on_like = make_on_like(FeedbackLog(path), 40)
    on_like(messages, gr.LikeData(None, {"index": 1, "value": [message], "liked": True}))
    (line,) = [json.loads(s) for s in path.read_text(encoding="utf-8").splitlines()]
    assert line["rating"] == "up" and line["question"] == "Who is the U.S. Secretary of State?"
    assert line["answers"] == ["Antony Blinken is the U.S. Secretary of State."]
    with pytest.warns(UserWarning, match="not an answer"):
        on_like(messages, gr.LikeData(None, {"index": 0, "value": ["q"], "liked": False}))
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1


def test_the_chosen_documents_are_the_ones_searched(runtime: Runtime) -> None:
    from qa.store import document_key

    respond = make_respond(runtime.chain)
    question = "Who is the U.S. Secretary of State?"
    _, everywhere = list(respond(question, [], []))[-1]  # nothing chosen: every document
    assert "blinken.txt" in everywhere
    message, panel = list(respond(question, [], [document_key("markup.md")]))[-1]
    assert "markup.md" in panel and "blinken.txt" not in panel and "blinken.txt" not in message


def test_blocks_with_documents_offer_a_search_selector_fed_to_the_chat(runtime: Runtime, tmp_path: Path) -> None:
    from qa.documents.registry import DocumentRecord

    docs = [
        DocumentRecord("d1", "notes.txt", "txt", 10, None, 1, "00", "2026-01-01T00:00:00Z", "upload"),
        DocumentRecord("d2", "b-minutes.md", "md", 10, None, 1, "01", "2026-01-01T00:00:00Z", "upload"),
        DocumentRecord("d3", "a-minutes.md", "md", 10, None, 1, "02", "2026-01-01T00:00:00Z", "upload"),
    ]
    titles = {"d1": "Zoo notes", "d2": "Minutes", "d3": "Minutes"}

    class Service:
        def documents(self) -> list[DocumentRecord]:
            return docs

        def title_of(self, rec: DocumentRecord) -> str | None:
            return titles[rec.id]

        def titled(self, answer: Answer) -> Answer:
            return answer

    blocks = build_blocks(runtime.chain, documents=Service())
    config = blocks.get_config_file()
    (search,) = [c for c in config["components"] if c["props"].get("elem_id") == "qa-docs-search"]
    assert search["props"]["multiselect"] is True and search["props"]["value"] == []
    assert [tuple(c) for c in search["props"]["choices"]] == [
        ("Minutes (a-minutes.md)", "d3"),
        ("Minutes (b-minutes.md)", "d2"),
        ("Zoo notes", "d1"),
    ], "by title, the file name telling a shared title apart, each the exact document id"
    chat = next(fn for fn in blocks.fns.values() if fn.api_name == "chat")
    assert search["id"] in [block._id for block in chat.inputs]
    chatbot = next(c for c in config["components"] if c["type"] == "chatbot")
    assert chatbot["props"]["examples"], "the examples stay in the chat"
    (choice,) = [c for c in config["components"] if c["props"].get("elem_id") == "qa-docs-choice"]
    assert choice["props"].get("value") is None, "no document is chosen for deletion until the user picks one"
    assert choice["props"]["label"] == "Document to delete"
    assert choice["props"]["choices"] == search["props"]["choices"]


def test_the_finished_answer_comes_with_the_saved_conversation(runtime: Runtime) -> None:
    respond = with_saving(make_respond(runtime.chain), gr.Chatbot(), extra_inputs=0)
    other = [{"role": "user", "metadata": None, "content": [{"text": "Where?", "type": "text"}], "options": None}]
    outputs = list(respond("Who is the U.S. Secretary of State?", [], None, [other]))
    *streaming, (message, panel, index, saved) = outputs
    assert streaming and all(isinstance(o[2], type(gr.skip())) and isinstance(o[3], type(gr.skip())) for o in streaming)
    assert "Blinken" in message and index == 0 and saved[1] == other
    assert [(m["role"], m["content"]) for m in saved[0]] == [
        ("user", [{"text": "Who is the U.S. Secretary of State?", "type": "text"}]),
        ("assistant", [{"text": message, "type": "text"}]),
    ], "Gradio's own shape, which its list of saved conversations reads"
    (_, _, index, again) = list(respond("And who is Wang Yi?", saved[0], 0, saved))[-1]
    assert index == 0 and len(again) == 2 and len(again[0]) == 4, "a continued conversation is saved in its place"
    assert [len(o) for o in respond("Who is the U.S. Secretary of State?", [])] == [2] * len(outputs), "the chat API saves nothing"


def test_the_chat_api_takes_no_saved_conversations(runtime: Runtime) -> None:
    blocks = build_blocks(runtime.chain)
    chat = next(fn for fn in blocks.fns.values() if fn.api_name == "chat")
    assert [type(c).__name__ for c in chat.inputs] == ["Textbox", "State"], "the question and the chat history"
    assert [type(c).__name__ for c in chat.outputs] == ["JSON", "State", "HTML"], "the answer, the history, the sources panel"
    submit = [fn for fn in blocks.fns.values() if any(type(c).__name__ == "BrowserState" for c in fn.outputs) and fn.queue]
    assert submit, "the queued chat function itself saves the conversation"


def test_an_answer_restricted_to_documents_names_them(runtime: Runtime) -> None:
    from qa.store import document_key
    from ui.history import message_scope

    markup = document_key("markup.md")
    labelled = make_respond(runtime.chain, lambda ids: [(i, f"Title of {i}") for i in ids])
    message, _ = list(labelled("Who is the U.S. Secretary of State?", [], [markup]))[-1]
    assert message_scope(message) == [(markup, f"Title of {markup}")]
    unlabelled, _ = list(make_respond(runtime.chain)("Who is the U.S. Secretary of State?", [], [markup]))[-1]
    assert message_scope(unlabelled) == [(markup, markup)]
    everywhere, _ = list(labelled("Who is the U.S. Secretary of State?", [], []))[-1]
    assert message_scope(everywhere) == []


def test_a_reopened_conversation_gets_its_choice_and_sources_back(runtime: Runtime) -> None:
    from qa.documents.registry import DocumentRecord
    from qa.store import document_key
    from ui.app import make_reopen_scope, reopened_panel
    from ui.documents import DocumentCatalog
    from ui.format import error_html

    markup = document_key("markup.md")
    listed = [DocumentRecord(markup, "markup.md", "md", 10, None, 1, "00", "2026-01-01T00:00:00Z", "upload")]

    class Service:
        def documents(self) -> list[DocumentRecord]:
            return listed

        def title_of(self, rec: DocumentRecord) -> str | None:
            return "Markup notes"

    respond = make_respond(runtime.chain, lambda ids: [(i, "Markup notes") for i in ids])
    message, panel = list(respond("Who is the U.S. Secretary of State?", [], [markup]))[-1]
    conversation = [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": message}]
    saved = [[{"role": "user", "content": "x"}, {"role": "assistant", "content": error_html("no")}], conversation]
    reopen_scope = make_reopen_scope(DocumentCatalog(Service()))

    update, note = reopen_scope(1, saved)
    assert update["value"] == [markup] and update["choices"] == [("Markup notes", markup)]
    assert note["value"] == "" and note["visible"] is False
    listed.clear()  # deleted since
    update, note = reopen_scope(1, saved)
    assert update["value"] == [] and update["choices"] == []
    assert "“Markup notes”, which was deleted since" in note["value"] and "every document" in note["value"] and note["visible"] is True
    assert reopened_panel(1, saved) == panel
    assert reopened_panel(0, saved) == EMPTY_PANEL, "no answer: the hint"
    skip, nothing = reopen_scope(7, saved)
    assert isinstance(skip, type(gr.skip())) and nothing["visible"] is False
    assert reopened_panel(None, None) == EMPTY_PANEL


def test_a_choice_that_cannot_be_searched_is_said_in_the_chat(runtime: Runtime) -> None:
    from qa.errors import InputError

    def gone(ids: object) -> list[tuple[str, str]]:
        raise InputError("“Tides” was deleted after being chosen in “Search in”")

    outputs = list(make_respond(runtime.chain, gone)("Who is the U.S. Secretary of State?", [], ["x"]))
    assert len(outputs) == 1 and "qa-error" in outputs[0][0] and "“Tides” was deleted" in outputs[0][0]
