"""A conversation through the real chain over two documents: the thread holds, and a question about the other's title leaves it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from qa.runtime import Runtime
from qa.types import Document

HARTSON = Document(
    source="hartson",
    text=(
        "# John Hartson: Luton Town and Arsenal\n\n"
        "Hartson began his career at Luton Town, joining the club as a trainee in 1992. He scored on his league debut and "
        "his goals made him one of the most sought-after young forwards in England. In January 1995 Arsenal paid 2.5 million "
        "pounds for him, a British record for a teenager. He scored in the Cup Winners' Cup final that season."
    ),
)
WITTGENSTEIN = Document(
    source="wittgenstein",
    text=(
        "# Ludwig Wittgenstein: Family temperament and the brothers' suicides\n\n"
        "Three of the five Wittgenstein brothers would later commit suicide. Hans disappeared from a boat in 1902 and was "
        "presumed to have killed himself. Rudi killed himself in a Berlin bar in 1904 after asking the pianist to play a "
        "song. Kurt shot himself in 1918 at the end of the First World War when the troops he commanded deserted."
    ),
)


@pytest.fixture(scope="module")
def two_documents(runtime_over: Callable[[str, list[Document]], Runtime]) -> Runtime:
    return runtime_over("thread-store", [HARTSON, WITTGENSTEIN])


def _thread(rt: Runtime, question: str) -> list[dict[str, Any]]:
    first = rt.chain.ask(question)
    assert not first.refused and first.citations[0].source == "hartson"
    cites = [{"passage_id": c.passage_id} for c in first.citations]
    return [{"role": "user", "content": question}, {"role": "assistant", "content": first.answer, "citations": cites}]


def test_a_follow_up_about_the_other_documents_title_leaves_the_thread(two_documents: Runtime) -> None:
    history = _thread(two_documents, "When did Hartson join Luton Town?")
    moved = two_documents.chain.ask("Why did his brothers commit suicide?", history)
    assert moved.passages[0].passage.source == "wittgenstein"
    # Searched as asked: the thread's topic a rewrite would put in ("John Hartson’s brothers") pulls back.
    assert moved.standalone_question == "Why did his brothers commit suicide?"


def test_a_vague_follow_up_stays_on_the_threads_document(two_documents: Runtime) -> None:
    history = _thread(two_documents, "When did Hartson join Luton Town?")
    stayed = two_documents.chain.ask("How much did Arsenal pay for him?", history)
    assert {h.passage.source for h in stayed.passages} == {"hartson"}
    assert not stayed.refused and "2.5 million" in stayed.answer


def test_who_is_a_person_then_he_on_the_seed_article(seed_runtime: Runtime) -> None:
    first = seed_runtime.chain.ask("Who is Wang Yi?")
    # The sentence that says what he is, not only one that names him.
    assert any("Foreign Minister Wang Yi" in c.quote for c in first.citations)
    history = [
        {"role": "user", "content": "Who is Wang Yi?"},
        {"role": "assistant", "content": first.answer, "citations": [{"passage_id": c.passage_id} for c in first.citations]},
        {"role": "user", "content": "Thanks!"},
        {"role": "assistant", "content": "You're welcome. Ask me anything else about the documents."},
    ]
    follow = seed_runtime.chain.ask("What did he tell Blinken?", history)
    assert follow.standalone_question == "What did Wang Yi tell Blinken?"
    assert not follow.refused and "Russia’s reasonable security concerns" in follow.answer


def _said(question: str, answer: Any) -> list[dict[str, Any]]:
    cites = [{"passage_id": c.passage_id} for c in answer.citations]
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer, "citations": cites}]


def test_tell_me_more_reads_on_through_the_paragraph_and_into_the_next_one(seed_runtime: Runtime) -> None:
    history = _said("What did Blinken tell reporters?", first := seed_runtime.chain.ask("What did Blinken tell reporters?"))
    place = (first.citations[0].paragraph, first.citations[0].end)
    passage_end = len(first.citations[0].text)
    for _ in range(4):  # sentence after sentence, then the next paragraph's first
        more = seed_runtime.chain.ask("Tell me more", history)
        assert not more.refused
        quoted = more.citations[0]
        assert (quoted.paragraph, quoted.start) > place  # always forward
        if quoted.paragraph > place[0]:
            assert (quoted.paragraph, quoted.start) == (place[0] + 1, 0) and place[1] == passage_end
            break
        place = (quoted.paragraph, quoted.end)
        history += _said("Tell me more", more)
    else:
        pytest.fail("never reached the next paragraph")


def test_what_is_this_article_about_is_answered_by_how_it_opens(seed_runtime: Runtime) -> None:
    about = seed_runtime.chain.ask("What is this article about?")
    assert not about.refused and (about.citations[0].paragraph, about.citations[0].start) == (1, 0)
    streamed = list(seed_runtime.chain.stream("Summarize the article"))  # the web chat's path
    assert streamed[-1].citations[0].quote == about.citations[0].quote


def test_an_overview_means_the_threads_document_or_the_one_chosen(two_documents: Runtime) -> None:
    from qa.store import document_key

    history = _thread(two_documents, "When did Hartson join Luton Town?")
    about = two_documents.chain.ask("What is this article about?", history)
    assert about.citations[0].quote.startswith("Hartson began his career at Luton Town")
    chosen = two_documents.chain.ask("Summarize the document", documents=[document_key("wittgenstein")])
    assert chosen.citations[0].quote.startswith("Three of the five Wittgenstein brothers")
    # Two documents and no thread: nothing says which one is meant, and the refusal says so.
    alone = two_documents.chain.ask("What is this article about?")
    assert alone.refused and alone.refusal_reason is not None and "2 could be meant" in alone.refusal_reason
    streamed = list(two_documents.chain.stream("What is this article about?"))
    assert streamed[-1].refused and streamed[-1].refusal_reason == alone.refusal_reason


KETTLE = Document(
    source="kettle.md",
    text=(
        "# KX-200 Electric Kettle: User Guide\n\n"
        "The KX-200 boils up to 1.7 litres of water and switches off by itself when the water boils.\n\n"
        "## Safety\n\n"
        "Do not immerse the kettle or its base in water. If the kettle is operated empty, the boil-dry protection "
        "switches it off; let it cool for 10 minutes before refilling.\n\n"
        "## Warranty\n\n"
        "The KX-200 has a two-year warranty from the date of purchase. The warranty does not cover damage caused by limescale.\n\n"
        "## Before first use\n\n"
        "Fill the kettle to the maximum mark, boil the water and pour it away. Repeat this twice.\n\n"
        "## Descaling\n\n"
        "In hard-water areas limescale builds up inside the kettle. Descale it once a month: fill it halfway with white "
        "vinegar and water, leave it for one hour, then boil and rinse three times."
    ),
)


@pytest.fixture(scope="module")
def kettle(runtime_over: Callable[[str, list[Document]], Runtime]) -> Runtime:
    return runtime_over("kettle-store", [KETTLE, HARTSON])


def test_a_follow_up_in_a_section_of_a_longer_document_is_answered_from_that_section(kettle: Runtime) -> None:
    rt = kettle
    first = rt.chain.ask("Can I put the base in water?")
    assert first.citations and first.citations[0].quote.startswith("Do not immerse")
    follow = rt.chain.ask("What if it runs dry?", _said("Can I put the base in water?", first))
    assert "boil-dry protection" in follow.answer


def test_it_after_the_documents_opening_is_the_document_and_its_section_answers(kettle: Runtime) -> None:
    # Each section's passages are under the `#` title too: "descale KX-200 Electric Kettle" is the Descaling
    # section's, not the one paragraph under the title that names the KX-200.
    first = kettle.chain.ask("How much water does the KX-200 boil?")
    assert first.citations and "1.7 litres" in first.citations[0].quote
    follow = kettle.chain.ask("How do I descale it?", _said("How much water does the KX-200 boil?", first))
    assert "KX-200 Electric Kettle" in follow.standalone_question
    assert not follow.refused and "Descale it once a month" in follow.answer
    assert all(c.heading.endswith("Descaling") for c in follow.citations)


def test_an_ellipsis_asks_of_the_section_the_last_answer_quoted(kettle: Runtime) -> None:
    asked = "What should I do before first use?"
    first = kettle.chain.ask(asked)
    assert first.citations and first.citations[0].quote.startswith("Fill the kettle")
    follow = kettle.chain.ask("How many times?", _said(asked, first))
    assert not follow.refused and follow.citations[0].quote == "Repeat this twice."
