"""The ONNX backend: the bundled model exported once, same vectors as torch, cached, and served without torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.embed import SentenceTransformerEmbedder
from qa.embed.onnx import OnnxEmbedder

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Who is the U.S. Secretary of State?",
    "Chinese Foreign Minister Wang Yi told Blinken that the security of one country cannot come at the expense of others.",
    "Paris",
    "Super Bowl 50 was an American football game to determine the champion of the National Football League (NFL) for the 2015 season. " * 12,
    "ünïcödé, emoji 🙂 and numbers 3.14159 — mixed “quotes”.",
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("all-MiniLM-L6-v2", None, torch_threads=1, batch_size=32)


@pytest.fixture(scope="module")
def onnx_fp32(cache: Path) -> OnnxEmbedder:
    return OnnxEmbedder("all-MiniLM-L6-v2", None, cache, quantize="none", threads=1, batch_size=2)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray((a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)))


def test_fp32_onnx_vectors_match_torch(torch_embedder: SentenceTransformerEmbedder, onnx_fp32: OnnxEmbedder) -> None:
    want = torch_embedder.embed(TEXTS)
    got = onnx_fp32.embed(TEXTS)  # batches of 2 sorted by length: padding must not change a vector
    assert got.shape == want.shape == (len(TEXTS), 384)
    assert _cosines(got, want).min() >= 0.9999
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    single = np.stack([onnx_fp32.embed([t])[0] for t in TEXTS])
    assert _cosines(single, want).min() >= 0.9999


def test_int8_vectors_stay_close(torch_embedder: SentenceTransformerEmbedder, cache: Path) -> None:
    int8 = OnnxEmbedder("all-MiniLM-L6-v2", None, cache, quantize="int8")
    assert int8.onnx_path.name == "model.int8.onnx"
    assert _cosines(int8.embed(TEXTS), torch_embedder.embed(TEXTS)).min() >= 0.85


def test_the_export_is_cached_and_reused(onnx_fp32: OnnxEmbedder, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = onnx_fp32.onnx_path.stat().st_mtime_ns

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("exported again")

    monkeypatch.setattr("qa.embed.export.export_onnx", refuse)
    again = OnnxEmbedder("all-MiniLM-L6-v2", None, cache)
    assert again.onnx_path == onnx_fp32.onnx_path
    assert again.onnx_path.stat().st_mtime_ns == before
    assert np.allclose(again.embed(TEXTS[:2]), onnx_fp32.embed(TEXTS[:2]))


def test_serving_with_onnx_imports_neither_torch_nor_sentence_transformers(onnx_fp32: OnnxEmbedder, cache: Path) -> None:
    code = (
        "import sys, qa.server, qa.runtime, qa.api, ui.app\n"
        "from qa.embed.onnx import OnnxEmbedder\n"
        f"e = OnnxEmbedder('all-MiniLM-L6-v2', None, __import__('pathlib').Path({str(cache)!r}))\n"
        "assert e.embed(['hello']).shape == (1, 384)\n"
        "bad = sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn') if m in sys.modules)\n"
        "print('heavy:', bad)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "heavy: []" in out.stdout


def test_the_export_is_fused_and_named_by_its_recipe(onnx_fp32: OnnxEmbedder, cache: Path) -> None:
    import json

    import onnx

    from qa.embed.export import RECIPE

    assert onnx_fp32.onnx_path.parent.name.endswith(f"-{RECIPE}")  # another recipe's cache is never picked up
    info = json.loads((onnx_fp32.onnx_path.parent / "export.json").read_text())
    ops = {n.op_type for n in onnx.load(str(onnx_fp32.onnx_path)).graph.node}
    # Eager attention traced with the TorchScript exporter fuses into onnxruntime's BERT ops.
    assert {"Attention", "EmbedLayerNormalization", "SkipLayerNormalization"} <= ops
    assert info["recipe"] == RECIPE and info["fused"]["Attention"] == 6


def test_question_and_batch_sessions_give_the_same_vectors(cache: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    split = OnnxEmbedder("all-MiniLM-L6-v2", None, cache, threads=2, batch_threads=1, spinning=False, batch_size=3)
    batch = split.embed(TEXTS)  # the 1-thread batch session
    single = np.stack([split.embed([t])[0] for t in TEXTS])  # the 2-thread question session
    assert _cosines(batch, single).min() >= 0.9999
    assert _cosines(batch, torch_embedder.embed(TEXTS)).min() >= 0.9999


def test_adaptive_question_sessions_give_the_same_vectors(cache: Path, torch_embedder: SentenceTransformerEmbedder) -> None:
    adaptive = OnnxEmbedder("all-MiniLM-L6-v2", None, cache, threads=2, spinning="adaptive")
    first = np.stack([adaptive.embed([t])[0] for t in TEXTS])
    second = np.stack([adaptive.embed([t])[0] for t in TEXTS])
    medians = adaptive._sessions.medians_ms()
    assert medians["plain"] is not None and medians["spinning"] is not None  # both sessions answered questions
    assert _cosines(first, second).min() >= 0.9999
    assert _cosines(first, torch_embedder.embed(TEXTS)).min() >= 0.9999
