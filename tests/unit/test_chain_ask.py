"""AnswerChain is LangChain Runnables: ask gives what invoking the Runnable gives, and callbacks see every named step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.answer.chain import AnswerChain
from qa.answer.providers import ExtractiveAnswerer
from qa.config import AnswerSettings, LimitsSettings
from qa.errors import InputError
from qa.ingest.split import split_document
from qa.store import document_key
from qa.types import Document, Hit
from tests.fake_runtime import FixedRetriever

pytestmark = pytest.mark.unit
SEED = Path(__file__).resolve().parents[2] / "seeds" / "000_ff359896b2990186.txt"


@pytest.fixture
def chain() -> AnswerChain:
    passages = split_document(Document("seed.txt", SEED.read_text(encoding="utf-8")))
    hits = [Hit(p, 1.0 - i / 10, sentence_sims=tuple(0.5 for _ in p.sentences)) for i, p in enumerate(passages[:5])]
    return AnswerChain(FixedRetriever(hits), ExtractiveAnswerer(AnswerSettings()), LimitsSettings())  # type: ignore[arg-type]


def _without_timings(answer: Any) -> dict[str, Any]:
    d = dict(answer.to_dict())
    d.pop("timings_ms", None)
    return d


@pytest.mark.parametrize(
    "question, history, top_k",
    [
        ("What did Wang Yi say about military blocs?", [], None),
        ("What did he say about forbidden zones?", [{"role": "user", "content": "Who is Zhao Lijian?"},
                                                   {"role": "assistant", "content": "A spokesman. [1]"}], 3),
        ("thanks", [{"role": "user", "content": "Who is Wang Yi?"}, {"role": "assistant", "content": "A diplomat. [1]"}], None),
    ],
)
def test_ask_goes_through_the_runnable(chain: AnswerChain, question: str, history: list[dict[str, str]], top_k: int | None) -> None:
    from langchain_core.runnables import RunnableLambda

    original = chain.chain
    seen: list[Any] = []
    chain.chain = RunnableLambda(lambda inputs: seen.append(inputs) or inputs) | original
    answer = chain.ask(question, history, top_k)
    assert seen == [{"question": question, "history": history, "top_k": top_k, "documents": None}]
    invoked = original.invoke({"question": question, "history": history, "top_k": top_k, "documents": None})
    assert _without_timings(answer) == _without_timings(invoked)
    assert set(answer.timings_ms) == set(invoked.timings_ms)


@pytest.mark.parametrize("question, top_k", [("", None), ("???", None), ("Who?", 0)])
def test_ask_rejects_what_the_runnable_rejects(chain: AnswerChain, question: str, top_k: int | None) -> None:
    with pytest.raises(InputError):
        chain.ask(question, top_k=top_k)
    with pytest.raises(InputError):
        chain.chain.invoke({"question": question, "history": [], "top_k": top_k, "documents": None})


def test_callbacks_see_every_named_step(chain: AnswerChain) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Steps(BaseCallbackHandler):
        def __init__(self) -> None:
            self.names: list[str] = []

        def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
            self.names.append(kwargs.get("name") or "")

    seen = Steps()
    chain.chain.invoke({"question": "What did Wang Yi say about military blocs?", "history": []}, config={"callbacks": [seen]})
    assert [n for n in seen.names if n in {"validate", "condense", "retrieve", "answer"}] == ["validate", "condense", "retrieve", "answer"]


TROPHY = split_document(Document("cup.txt", "# World Cup 1934\n\nMussolini had a trophy made for the event, the Coppa Del Duce. It was six times the size of the Jules Rimet."))[0]
OTHER = split_document(Document("bonn.txt", "# Bonn\n\nBonn is a city on the Rhine. It was called the federal city."))[0]


class ThreadRankedOut(FixedRetriever):
    """Ranks the thread's document below the others for any words; finds it when asked for it by document id."""

    def get(self, passage_id: str) -> Any:
        return TROPHY if passage_id == TROPHY.passage_id else None

    def retrieve(self, question: str, top_k: int | None = None, qvec: Any = None, *, documents: Any = None) -> list[Hit]:
        self.queries.append(question)
        if documents and document_key("cup.txt") in documents:
            return [Hit(TROPHY, 1.0, sentence_sims=(0.4, 0.4))]
        return super().retrieve(question, top_k, qvec, documents=documents)


def test_a_vague_follow_up_is_answered_from_the_threads_document_even_when_searching_ranks_it_out() -> None:
    retriever = ThreadRankedOut([Hit(OTHER, 1.0, sentence_sims=(0.5, 0.5))])
    chain = AnswerChain(retriever, ExtractiveAnswerer(AnswerSettings()), LimitsSettings())  # type: ignore[arg-type]
    cited = [{"passage_id": TROPHY.passage_id}]
    history = [
        {"role": "user", "content": "What did Mussolini have made?"},
        {"role": "assistant", "content": "Mussolini had a trophy made for the event [1]", "citations": cited},
    ]
    answer = chain.ask("What was it called?", history)
    assert {c.source for c in answer.citations} == {"cup.txt"}
