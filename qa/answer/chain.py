"""The LangChain chain: validate -> condense follow-up -> retrieve -> answer -> cite, as LCEL Runnables."""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig

from qa.answer.base import Answerer, Condenser, Draft, Flow, FollowsDialog
from qa.answer.condense import Rewrite, Turn, rewrite
from qa.answer.thread import Thread, ThreadTracker, destination, expand, prefer_document, prefer_thread
from qa.config import LimitsSettings
from qa.errors import InputError
from qa.language import asks_overview, small_talk_reply
from qa.retrieve import HybridRetriever
from qa.store import document_key
from qa.types import MAX_DOCUMENT_FILTER, REFUSAL, Answer, Citation, Hit, Passage

log = logging.getLogger(__name__)
# "What is this article about?" asked of several documents, with no conversation to tell which.
WHICH_DOCUMENT = (
    "This asks about one document, and {n} could be meant: choose one (the chat's Documents panel, or `documents` "
    "in the API), or ask it after a question about that document."
)

ROLES = ("user", "assistant")


def _is_unicode(text: str) -> bool:
    """Return False for text that cannot be encoded (JSON's "\\ud800" decodes to a lone surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_question(question: Any, limits: LimitsSettings) -> str:
    """Return the stripped question or raise InputError saying what is wrong."""
    if not isinstance(question, str):
        raise InputError("question must be a string")
    stripped = question.strip()
    if not stripped:
        raise InputError("question is empty")
    if len(question) > limits.max_question_chars:
        raise InputError(
            f"question is {len(question)} characters; the limit is {limits.max_question_chars} (limits.max_question_chars)"
        )
    if not _is_unicode(question):
        raise InputError("question holds a character that is not valid Unicode (a lone surrogate)")
    # Nothing to search for ("?", "...", "🙂🙂"): an error the asker can fix, rather than a guess quoted from the documents.
    if not any(ch.isalnum() for ch in stripped):
        raise InputError("question has no letters or digits: ask it in words")
    return stripped


def _citation_ids(turn: Any, i: int) -> tuple[str, ...]:
    """Return the passage ids an assistant turn says it cited, or raise InputError naming the bad one."""
    if isinstance(turn, Turn):
        return turn.citations
    cites = turn.get("citations") if isinstance(turn, Mapping) else None
    if cites is None:
        return ()
    if not isinstance(cites, list | tuple):
        raise InputError(f"history[{i}].citations must be a list")
    ids = []
    for j, c in enumerate(cites):
        pid = c.get("passage_id") if isinstance(c, Mapping) else None
        if not isinstance(pid, str) or not pid:
            raise InputError(f"history[{i}].citations[{j}].passage_id must be a non-empty string")
        ids.append(pid)
    return tuple(ids)


def validate_history(history: Sequence[Any], limits: LimitsSettings) -> list[Turn]:
    """Return history as turns or raise InputError naming the bad turn."""
    if len(history) > limits.max_history_turns:
        raise InputError(f"history has {len(history)} turns; the limit is {limits.max_history_turns}")
    turns = []
    for i, t in enumerate(history):
        role = t.role if isinstance(t, Turn) else (t.get("role") if isinstance(t, dict) else None)
        content = t.content if isinstance(t, Turn) else (t.get("content") if isinstance(t, dict) else None)
        if role not in ROLES:
            raise InputError(f"history[{i}].role must be 'user' or 'assistant'")
        if not isinstance(content, str):
            raise InputError(f"history[{i}].content must be a string")
        if not _is_unicode(content):
            raise InputError(f"history[{i}].content holds a character that is not valid Unicode (a lone surrogate)")
        if len(content) > limits.max_question_chars * 10:
            raise InputError(f"history[{i}].content is too long")
        turns.append(Turn(role, content, _citation_ids(t, i)))
    return turns


def validate_documents(documents: Any) -> tuple[str, ...] | None:
    """Return the document ids a question is restricted to (None: all) or raise InputError saying what is wrong."""
    if documents is None:
        return None
    if not isinstance(documents, list | tuple) or not all(isinstance(d, str) and d for d in documents):
        raise InputError("documents must be a list of document ids (strings, as GET /api/documents lists them)")
    if not documents:
        raise InputError("documents is empty: leave it out to search every document")
    if len(documents) > MAX_DOCUMENT_FILTER:
        raise InputError(f"documents has {len(documents)} items; the limit is {MAX_DOCUMENT_FILTER}")
    return tuple(dict.fromkeys(documents))


def located(citations: Sequence[Citation], hits: Sequence[Hit]) -> tuple[Citation, ...]:
    """Return the citations with the heading and page of the passage each one quotes."""
    by_id = {h.passage.passage_id: h.passage for h in hits}
    out = []
    for c in citations:
        p = by_id.get(c.passage_id)
        out.append(replace(c, heading=p.heading, page=p.page) if p is not None else c)
    return tuple(out)



@dataclass(frozen=True)
class Step:
    """The chain's state between steps: each step returns a new one."""

    question: str
    history: tuple[Turn, ...]
    top_k: int | None
    started: float
    documents: tuple[str, ...] | None = None  # the ids of the documents to search; None: all
    timings_ms: tuple[tuple[str, float], ...] = ()
    thread: Thread = field(default_factory=Thread)
    rewrite: Rewrite | None = None
    standalone: str = ""  # exactly what was searched for
    hits: tuple[Hit, ...] = ()
    opening: str = ""  # "What is this article about?": the passage the answered document opens with
    several: int = 0  # "What is this article about?" with no document to tell which: how many could be meant

    def timed(self, name: str, since: float, **changes: Any) -> Step:
        """Return the state with a stage's elapsed milliseconds added (and other fields changed)."""
        return replace(self, timings_ms=(*self.timings_ms, (name, (time.perf_counter() - since) * 1000.0)), **changes)

    @property
    def small_talk(self) -> bool:
        """Return True when the message is small talk, answered without retrieval."""
        return self.rewrite is not None and self.rewrite.small_talk

    @cached_property  # asked by the retrieval of "what happened next?" and again by the answerer
    def flow(self) -> Flow:
        """Return where the dialog stands for this question (an overview reads the document from its start)."""
        if self.opening:
            return Flow(last=(self.opening, -1), continues=True, asked=self.question)
        return self.thread.flow(self.question)


_ONE_INPUT = inspect.Signature([inspect.Parameter("input", inspect.Parameter.POSITIONAL_ONLY)])


class _Step(Runnable[Any, Any]):
    """One named step of the chain: a Runnable calling a function of its input alone.

    RunnableLambda inspects the signatures of its function and of its own methods at every call, to see
    whether they take a config or a run manager: about 40 µs per step, four steps per question. This
    step hands LangChain's ``_call_with_config`` (callbacks, tracing, run names as before) a function
    whose signature is stated once (README "Speed and scale").
    """

    def __init__(self, method: Callable[[Any], Any], name: str) -> None:
        def call(value: Any) -> Any:
            return method(value)

        call.__signature__ = _ONE_INPUT  # type: ignore[attr-defined]
        self._call = call
        self.name = name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:  # noqa: A002 (LangChain's name)
        """Return the step's output, reported to the config's callbacks as a chain run named after the step."""
        return self._call_with_config(self._call, input, config)


class AnswerChain:
    """Answers questions over a retriever with an answerer; the same object serves CLI, API and UI."""

    def __init__(self, retriever: HybridRetriever, answerer: Answerer, limits: LimitsSettings) -> None:
        self.retriever = retriever
        self.answerer = answerer
        self.limits = limits
        self.tracker = ThreadTracker(retriever)

        # The chain is LangChain Runnables, one named step each, so callbacks and tracing see every step.
        self.prepare: Runnable[dict[str, Any], Step] = (
            _Step(self._validate, "validate") | _Step(self._condense, "condense") | _Step(self._retrieve, "retrieve")
        )
        self.chain: Runnable[dict[str, Any], Answer] = self.prepare | _Step(self._answer, "answer")

    def _validate(self, inputs: dict[str, Any]) -> Step:
        top_k = inputs.get("top_k")
        if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or not 1 <= top_k <= 50):
            raise InputError("top_k must be an integer from 1 to 50")
        return Step(
            question=validate_question(inputs.get("question"), self.limits),
            history=tuple(validate_history(inputs.get("history") or [], self.limits)),
            top_k=top_k,
            started=time.perf_counter(),
            documents=validate_documents(inputs.get("documents")),
        )

    def _condense(self, step: Step) -> Step:
        t = time.perf_counter()
        thread = self.tracker.thread(step.history, documents=step.documents) if step.history else Thread()
        found = rewrite(step.question, step.history, thread.topic, thread.topic_is_person)
        if not found.small_talk and step.history and isinstance(self.answerer, Condenser):
            # An answerer with a language model may rewrite follow-ups itself.
            found = replace(found, question=self.answerer.condense(step.question, step.history))
        return step.timed("condense", t, thread=thread, rewrite=found)

    def _retrieve(self, step: Step) -> Step:
        found = step.rewrite
        if found is None or found.small_talk:
            return replace(step, standalone=step.question)
        query = expand(found, step.thread)
        t = time.perf_counter()
        qvec = self.retriever.embed_query(query)
        step = step.timed("embed", t)
        t = time.perf_counter()
        if step.thread.document:
            # Retrieve deeper so that the thread's passages can be preferred over the question's own top k.
            k = step.top_k or self.retriever.settings.top_k
            deeper = self.retriever.retrieve(query, max(3 * k, 15), qvec=qvec, documents=step.documents)
            moved = destination(step.question, found, step.thread, deeper)
            if moved is None:
                if found.refers and not any(h.passage.source == step.thread.document for h in deeper):
                    deeper = [*deeper, *self._thread_document_hits(query, qvec, step, k)]
                hits = self._continuing(step, query, qvec, prefer_thread(found, deeper, step.thread, k, asked=step.question), k)
            else:
                if query != step.question:
                    # The question moved on: the thread's words a rewrite or an expansion put in would pull it back.
                    query = step.question
                    deeper = self.retriever.retrieve(query, max(3 * k, 15), documents=step.documents)
                hits = prefer_document(deeper, moved, k)
        else:
            hits = self.retriever.retrieve(query, step.top_k, qvec=qvec, documents=step.documents)
        opening, several = None, 0
        if asks_overview(step.question):
            opening = self._opening(step)
            several = 0 if opening is not None else len(step.documents or ()) or self.retriever.document_count
        if opening is not None:
            # "What is this article about?" is answered by how the document opens, whatever else its words match.
            hits = self.retriever.hits_for([opening], query, qvec)
        return step.timed(
            "retrieve", t, standalone=query, hits=tuple(hits), opening=opening.passage_id if opening else "",
            several=several if several > 1 else 0,
        )

    def _opening(self, step: Step) -> Passage | None:
        """Return the first passage of the document an overview question means: the thread's, the one chosen, or the only one."""
        if step.thread.document:
            document: str | None = document_key(step.thread.document)
        elif step.documents is not None and len(step.documents) == 1:
            document = step.documents[0]
        else:
            document = None  # the store's only document, if it has just one
        if document is not None and step.documents is not None and document not in step.documents:
            return None
        return self.retriever.opening(document)

    def _continuing(self, step: Step, query: str, qvec: Any, hits: list[Hit], k: int) -> list[Hit]:
        """Return the hits led by the last answer's passage and the one after it, for "what happened next?", "tell me more".

        The next sentence may lie in the document's next passage, which the question's few words do not retrieve.
        """
        flow = step.flow
        if not flow.continues or flow.last is None:
            return hits
        ids = [flow.last[0], *([flow.after] if flow.after else [])]
        passages = [p for pid in ids if (p := self.retriever.get(pid)) is not None]
        if step.documents is not None:
            passages = [p for p in passages if document_key(p.source) in step.documents]
        head = self.retriever.hits_for(passages, query, qvec)
        return [*head, *(h for h in hits if h.passage.passage_id not in ids)][:k]

    def _thread_document_hits(self, query: str, qvec: Any, step: Step, k: int) -> list[Hit]:
        """Return the best passages of the thread's document: a question that leans on the thread means it, ranked or not.

        "What was it called?" has no words of its own to find its document by; the corpus's other documents
        may outrank the thread's for the few it has.
        """
        document = document_key(step.thread.document)
        if step.documents is not None and document not in step.documents:
            return []
        try:
            return self.retriever.retrieve(query, k, qvec=qvec, documents=(document,))
        except InputError:  # deleted since the thread was read: the question is answered from what is left
            log.info("the thread's document %s is gone; answering from the other documents", step.thread.document)
            return []

    def _finish(self, step: Step, draft: Draft) -> Answer:
        timings = dict(step.timings_ms)
        timings.update(draft.timings_ms)
        timings["total"] = (time.perf_counter() - step.started) * 1000.0
        if step.small_talk:
            return Answer(answer=draft.text, refused=False, standalone_question=step.standalone, timings_ms=timings)
        return Answer(
            answer=REFUSAL if draft.refused else draft.text,
            refused=draft.refused,
            standalone_question=step.standalone,
            citations=located(draft.citations, step.hits),
            passages=step.hits,
            timings_ms=timings,
            fallback=draft.fallback,
            removed=draft.removed,
            flagged=draft.flagged,
            refusal_reason=draft.refusal_reason if draft.refused else None,
        )

    def answer_hits(self, step: Step, hits: Sequence[Hit]) -> Draft:
        """Return the answerer's draft for the step's question over the given hits (following the dialog when it can)."""
        if step.small_talk:
            return Draft(text=small_talk_reply(step.question), citations=())
        if step.several:
            return Draft(text="", citations=(), refusal_reason=WHICH_DOCUMENT.format(n=step.several))
        if (step.history or step.opening) and isinstance(self.answerer, FollowsDialog):
            return self.answerer.answer_in_dialog(step.standalone, hits, step.flow)
        return self.answerer.answer(step.standalone, hits)

    def _answer(self, step: Step) -> Answer:
        t = time.perf_counter()
        draft = self.answer_hits(step, step.hits)
        return self._finish(step.timed("answer", t), draft)

    def ask(
        self, question: str, history: Sequence[Any] = (), top_k: int | None = None, *, documents: Sequence[str] | None = None
    ) -> Answer:
        """Return the cited answer to a question (with earlier turns as context; only from ``documents`` when given)."""
        return self.chain.invoke({"question": question, "history": list(history), "top_k": top_k, "documents": documents})

    def stream(
        self, question: str, history: Sequence[Any] = (), top_k: int | None = None, *, documents: Sequence[str] | None = None
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the final Answer (only from ``documents`` when given)."""
        inputs = {"question": question, "history": list(history), "top_k": top_k, "documents": documents}
        step = self.prepare.invoke(inputs)
        t = time.perf_counter()
        if step.small_talk or step.several or ((step.history or step.opening) and isinstance(self.answerer, FollowsDialog)):
            draft = self.answer_hits(step, step.hits)
            for i, c in enumerate(draft.citations):
                yield ("" if i == 0 else " ") + f"{c.quote} [{c.n}]"
            if step.small_talk:
                yield draft.text
            yield self._finish(step.timed("answer", t), draft)
            return
        for item in self.answerer.stream(step.standalone, step.hits):
            if isinstance(item, Draft):
                yield self._finish(step.timed("answer", t), item)
            else:
                yield item
