"""The generative answerer on LangChain's fake chat models, scripting each way a model goes wrong."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel

from qa.answer.base import Condenser, Draft
from qa.answer.chain import AnswerChain
from qa.answer.condense import Turn
from qa.answer.condense import condense as rule_condense
from qa.answer.generate import GenerativeAnswerer
from qa.answer.providers import ExtractiveAnswerer, make_answerer
from qa.config import AnswerSettings, LimitsSettings
from qa.errors import ConfigError, ProviderError
from qa.ingest.split import split_document
from qa.runtime import check_answerer
from qa.types import Document, Hit, Unsupported
from tests.fake_runtime import FixedRetriever

SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_ff359896b2990186.txt"
QUESTION = "What did Wang Yi say about expanding military blocs?"
HISTORY = [Turn("user", "Who is Antony Blinken?"), Turn("assistant", "Secretary of State Antony Blinken. [1]")]
GOOD = "Wang Yi said regional security cannot be guaranteed by strengthening or expanding military blocs [2]."


@pytest.fixture(scope="module")
def hits() -> list[Hit]:
    """Return three seed paragraphs as hits: [1] Blinken call, [2] Wang Yi quote, [3] mobilizing forces."""
    passages = split_document(Document("seed.txt", SEED.read_text(encoding="utf-8")))
    return [Hit(p, 1.0, sentence_sims=tuple(0.5 for _ in p.sentences)) for p in passages[:3]]


def scripted(*replies: str) -> GenericFakeChatModel:
    """Return a fake chat model that streams the replies in turn, word by word."""
    return GenericFakeChatModel(messages=iter(replies))


def answerer(model: Any, **settings: Any) -> GenerativeAnswerer:
    s = AnswerSettings(**settings)
    return GenerativeAnswerer(model, s, ExtractiveAnswerer(s), name="fake")


def assert_checkable(draft: Draft, threshold: float = 0.5) -> None:
    for c in draft.citations:
        assert c.text[c.start : c.end] == c.quote
        assert c.support >= threshold
        assert f"[{c.n}]" in draft.text


@pytest.mark.parametrize(
    "reply, kept, removed_reasons",
    [
        pytest.param(GOOD, [GOOD.replace(" [2].", ". [1]")], [], id="correct-cited-answer"),
        pytest.param(
            GOOD + " Blinken rejected the demands [9].",
            [GOOD.replace(" [2].", ". [1]")],
            ["cites [9] but there are 3 passages"],
            id="citation-9-of-3-passages",
        ),
        pytest.param(
            GOOD + " China supports Russia in every way.",
            [GOOD.replace(" [2].", ". [1]")],
            ["no citation"],
            id="uncited-sentence",
        ),
        pytest.param(
            GOOD + " Wang Yi spoke with the Russian Foreign Minister Wang Yi [2].",
            [GOOD.replace(" [2].", ". [1]")],
            ["“russian” is not in the cited passage"],
            id="fabricated-name",
        ),
        pytest.param(
            GOOD + " Russian forces of 100,000 were mobilized near Ukrainian borders [3].",
            [GOOD.replace(" [2].", ". [1]")],
            ["“100,000” is not in the cited passage"],
            id="fabricated-number",
        ),
    ],
)
def test_verified_answer(hits: list[Hit], reply: str, kept: list[str], removed_reasons: list[str]) -> None:
    draft = answerer(scripted(reply)).answer(QUESTION, hits)
    assert draft.text == " ".join(kept)
    assert [u.reason for u in draft.removed] == removed_reasons
    assert draft.fallback is None
    assert [c.passage_id for c in draft.citations] == [hits[1].passage.passage_id]
    assert "expanding military blocs" in draft.citations[0].quote
    assert_checkable(draft)


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param("Wang Yi spoke with the Russian Foreign Minister Wang Yi [2].", id="only-sentence-fabricated"),
        pytest.param("Wang Yi said military blocs are bad [7].", id="only-sentence-cites-missing-passage"),
        pytest.param("The weather in Paris was lovely that spring.", id="only-sentence-uncited-and-unsupported"),
        pytest.param("", id="empty-reply"),
    ],
)
def test_nothing_survives_falls_back_to_extractive(hits: list[Hit], reply: str) -> None:
    draft = answerer(scripted(reply)).answer(QUESTION, hits)
    extractive = ExtractiveAnswerer(AnswerSettings()).answer(QUESTION, hits)
    assert draft.fallback == "extractive"
    assert draft.text == extractive.text and draft.citations == extractive.citations
    assert len(draft.removed) == (1 if reply else 0)
    assert_checkable(draft, threshold=0.0)


def test_refusal_is_kept_as_refusal(hits: list[Hit]) -> None:
    draft = answerer(scripted("I could not find this in the documents.")).answer("Who won the 2022 World Cup?", hits)
    assert draft.refused
    assert draft.fallback is None
    assert draft.citations == () and draft.removed == ()


@pytest.mark.parametrize("error_on_chunk", [pytest.param(0, id="before-first-token"), pytest.param(10, id="mid-stream")])
def test_provider_error_falls_back_without_raising(
    hits: list[Hit], error_on_chunk: int, caplog: pytest.LogCaptureFixture
) -> None:
    model = FakeListChatModel(responses=[GOOD], error_on_chunk_number=error_on_chunk)
    with caplog.at_level(logging.WARNING, logger="qa.answer.generate"):
        items = list(answerer(model).stream(QUESTION, hits))
    draft = items[-1]
    assert isinstance(draft, Draft)
    assert draft.fallback == "extractive"
    assert draft.citations and not draft.removed
    assert "fake provider failed" in caplog.text
    assert all(isinstance(i, str) for i in items[:-1])


SECOND = "China wants the United States to yield to Russia’s demands for a NATO rollback [1]."
BAD = "He met Joe Biden [2]."


class GatedModel(GenericFakeChatModel):
    """A fake chat model that counts the chunks it produced and pauses after ``hold_after`` of them until the gate opens."""

    gate: Any = None
    hold_after: int = 10**9
    produced: list[int] = []

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for i, chunk in enumerate(super()._stream(*args, **kwargs)):
            if i == self.hold_after:
                self.gate.wait(timeout=10)
            self.produced.append(i)
            yield chunk


def gated(reply: str, hold_after: int) -> GatedModel:
    return GatedModel(messages=iter([reply]), gate=threading.Event(), hold_after=hold_after, produced=[])


def chunks(text: str) -> int:
    """Return how many chunks GenericFakeChatModel streams the text in (words and the spaces between them)."""
    return len(re.split(r"(\s)", text))


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(f"{BAD} {GOOD} {SECOND}", id="bad-sentence-first"),
        pytest.param(f"{GOOD} {BAD} {SECOND}", id="bad-sentence-between"),
        pytest.param(f"{GOOD} {SECOND} {BAD}", id="bad-sentence-last"),
    ],
)
def test_stream_shows_only_verified_sentences(hits: list[Hit], reply: str) -> None:
    items = list(answerer(scripted(reply)).stream(QUESTION, hits))
    deltas, final = items[:-1], items[-1]
    assert isinstance(final, Draft)
    assert all(isinstance(d, str) for d in deltas) and len(deltas) == 2, "one delta per verified sentence"
    assert not any("Biden" in str(d) for d in deltas), "the removed sentence never reaches a reader"
    assert "".join(str(d) for d in deltas) == final.text
    assert final.text == GOOD.replace(" [2].", ". [1]") + " " + SECOND.replace(" [1].", ". [2]")
    assert [u.sentence for u in final.removed] == ["He met Joe Biden."]
    assert {"first_token", "generate", "verify"} <= set(final.timings_ms)


def test_a_verified_sentence_streams_before_the_model_finishes(hits: list[Hit]) -> None:
    reply = f"{GOOD} {SECOND} {BAD}"
    model = gated(reply, hold_after=chunks(f"{GOOD} China wants"))  # pause inside the second sentence
    stream = answerer(model).stream(QUESTION, hits)
    first = next(stream)
    assert first == GOOD.replace(" [2].", ". [1]")
    assert not model.gate.is_set() and len(model.produced) < chunks(reply), "shown while the model was still writing"
    model.gate.set()
    assert isinstance(list(stream)[-1], Draft)


def test_a_reader_that_goes_away_frees_the_generation(hits: list[Hit]) -> None:
    reply = f"{GOOD} {SECOND} " + " ".join(["More words follow here."] * 20)
    model = gated(reply, hold_after=chunks(f"{GOOD} China wants"))
    gen = GenerativeAnswerer(model, AnswerSettings(), ExtractiveAnswerer(AnswerSettings()), name="fake", serialize=True)
    stream = gen.stream(QUESTION, hits)
    assert isinstance(next(stream), str)
    stream.close()  # the client went away
    model.gate.set()
    assert gen._lock is not None and gen._lock.acquire(timeout=10), "the model lock is free again"
    gen._lock.release()
    assert len(model.produced) < chunks(reply), "the generation stopped instead of running to the end"


def test_a_slow_reader_does_not_block_other_generations(hits: list[Hit]) -> None:
    model = GenericFakeChatModel(messages=iter([f"{GOOD} {SECOND}", f"{GOOD} {SECOND}"]))
    gen = GenerativeAnswerer(model, AnswerSettings(), ExtractiveAnswerer(AnswerSettings()), name="fake", serialize=True)
    slow = gen.stream(QUESTION, hits)
    assert isinstance(next(slow), str)  # this reader now stops reading, mid-answer
    done: list[Any] = []
    other = threading.Thread(target=lambda: done.extend(gen.stream(QUESTION, hits)), daemon=True)
    other.start()
    other.join(timeout=20)
    assert done and isinstance(done[-1], Draft) and done[-1].fallback is None, "the second generation ran to the end"
    slow.close()


def test_flag_mode_keeps_unsupported_sentences_marked(hits: list[Hit]) -> None:
    draft = answerer(scripted(GOOD + " He met Joe Biden [2]."), verify="flag").answer(QUESTION, hits)
    # Kept in place, and without a marker: no sentence of passage [2] shares a word with it.
    assert draft.text.endswith("military blocs. [1] He met Joe Biden.")
    assert [u.sentence for u in draft.flagged] == ["He met Joe Biden."]
    assert draft.removed == ()


def test_no_hits_refuses_without_calling_the_model() -> None:
    model = scripted()  # any call would raise StopIteration inside the model
    draft = answerer(model).answer(QUESTION, [])
    assert draft.refused and draft.fallback is None


@pytest.mark.parametrize(
    "reply, expected",
    [
        pytest.param("What is Antony Blinken's job title?", "What is Antony Blinken's job title?", id="model-rewrite"),
        pytest.param("Rewritten question: \"What is Antony Blinken's job title?\"\nExtra", "What is Antony Blinken's job title?", id="prefix-quotes-extra-lines"),
        pytest.param("", None, id="empty-uses-rules"),
        pytest.param("Who? " * 200, None, id="rambling-uses-rules"),
        pytest.param("User: What is Antony Blinken's job title?", "What is Antony Blinken's job title?", id="role-prefix"),
        pytest.param("What is Antony Blinken's job title in the Biden cabinet?", None, id="invented-words-use-rules"),
        pytest.param("What is Antony Blinken's title?", None, id="dropped-question-word-uses-rules"),
        pytest.param("The answer to this question is: Secretary of State", None, id="an-answer-uses-rules"),
    ],
)
def test_condense_with_the_model(reply: str, expected: str | None) -> None:
    rewritten = answerer(scripted(reply)).condense("What is his job title?", HISTORY)
    assert rewritten == (expected or rule_condense("What is his job title?", HISTORY))


def test_condense_without_history_does_not_call_the_model() -> None:
    assert answerer(scripted()).condense("  Who is Blinken? ", []) == "Who is Blinken?"


def test_condense_provider_error_uses_the_rules() -> None:
    model = FakeListChatModel(responses=["x"], error_on_chunk_number=0)
    assert answerer(model).condense("What is his job title?", HISTORY) == rule_condense("What is his job title?", HISTORY)


def test_chain_uses_the_model_condense_and_reports_stage_timings(hits: list[Hit]) -> None:
    model = scripted("What did Wang Yi say about military blocs?", GOOD + " He met Joe Biden [2].")
    gen = answerer(model)
    assert isinstance(gen, Condenser)
    retriever = FixedRetriever(hits)
    chain = AnswerChain(retriever, gen, LimitsSettings())  # type: ignore[arg-type]
    history = [{"role": "user", "content": "Who is Wang Yi?"}, {"role": "assistant", "content": "China's top diplomat. [1]"}]
    result = chain.ask("What did he say about military blocs?", history).to_dict()
    assert retriever.queries[-1] == "What did Wang Yi say about military blocs?"  # earlier: the thread lookup
    assert result["standalone_question"] == "What did Wang Yi say about military blocs?"
    assert result["answer"] == GOOD.replace(" [2].", ". [1]")
    assert result["removed"][0]["sentence"] == "He met Joe Biden."
    assert "fallback" not in result and "flagged" not in result
    assert {"condense", "retrieve", "generate", "verify", "total"} <= set(result["timings_ms"])


def test_chain_stream_ends_with_the_verified_answer(hits: list[Hit]) -> None:
    chain = AnswerChain(FixedRetriever(hits), answerer(scripted(GOOD)), LimitsSettings())  # type: ignore[arg-type]
    items = list(chain.stream(QUESTION))
    assert all(isinstance(i, str) for i in items[:-1])
    final = items[-1]
    assert not isinstance(final, str)
    assert final.answer == GOOD.replace(" [2].", ". [1]") and not final.refused


def test_extractive_answer_json_has_no_verification_keys(hits: list[Hit]) -> None:
    chain = AnswerChain(FixedRetriever(hits), ExtractiveAnswerer(AnswerSettings()), LimitsSettings())  # type: ignore[arg-type]
    result = chain.ask(QUESTION).to_dict()
    assert not {"removed", "flagged", "fallback"} & set(result)


@pytest.mark.parametrize(
    "settings, message",
    [
        pytest.param({"provider": "llamacpp", "model_path": "/nonexistent/model.gguf"}, "is not a file", id="missing-gguf"),
    ],
)
def test_make_answerer_config_errors(settings: dict[str, Any], message: str) -> None:
    pytest.importorskip("langchain_community", reason="the llm extra is not installed")
    with pytest.raises(ConfigError, match=message):
        make_answerer(AnswerSettings(**settings))


def test_make_answerer_openai_builds_without_connecting() -> None:
    pytest.importorskip("langchain_openai", reason="the llm extra is not installed")
    gen = make_answerer(AnswerSettings(provider="openai", base_url="http://127.0.0.1:9/v1", model="m", max_tokens=64))
    assert isinstance(gen, GenerativeAnswerer)
    assert gen.name == "openai"
    assert gen.model.max_tokens == 64  # type: ignore[attr-defined]
    assert gen.model.temperature == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "problem",
    [pytest.param(None, id="healthy"), pytest.param("cannot reach the openai provider at http://127.0.0.1:9/v1", id="unreachable")],
)
def test_check_answerer_turns_an_unhealthy_provider_into_one_clear_error(problem: str | None) -> None:
    s = AnswerSettings()
    gen = GenerativeAnswerer(scripted(), s, ExtractiveAnswerer(s), name="fake", probe=lambda: problem)
    assert gen.health() == problem
    if problem is None:
        check_answerer(gen)
    else:
        with pytest.raises(ProviderError, match="^cannot reach the openai provider"):
            check_answerer(gen)


def test_a_fallback_refusal_keeps_its_reason_beside_the_removed_generated_sentences(hits: list[Hit]) -> None:
    reason = "The documents do not mention “Fort Stevenson”."

    class RefusesNamingIt:
        def answer(self, question: str, hits: Any) -> Draft:
            return Draft("", (), removed=(Unsupported("A weak quote.", 0.1, reason),), refusal_reason=reason)

    gen = GenerativeAnswerer(scripted("The weather in Paris was lovely that spring."), AnswerSettings(), RefusesNamingIt(), name="fake")  # type: ignore[arg-type]
    draft = gen.answer("Who designed Fort Stevenson?", hits)
    assert draft.refused and draft.fallback == "extractive" and draft.refusal_reason == reason
    assert [u.sentence for u in draft.removed] == ["The weather in Paris was lovely that spring."], "removed: the generated sentence"
