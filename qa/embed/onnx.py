"""The ONNX embedder: the exported model served with onnxruntime and the model's own fast tokenizer, without torch."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.embed import default_model_path
from qa.errors import ConfigError

log = logging.getLogger(__name__)


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or another mean-pooled model) as one ONNX graph: tokens in, normalised vectors out."""

    def __init__(
        self,
        name: str,
        model_path: Path | None,
        cache_root: Path,
        *,
        quantize: str = "none",
        threads: int = 1,
        batch_threads: int | None = None,
        spinning: bool = False,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from qa.embed.export import ensure_onnx

        started = time.perf_counter()
        path = model_path or default_model_path()
        if not path.exists():
            raise ConfigError(f"embedding model folder not found: {path} (embed.model_path)")
        if not (path / "tokenizer.json").exists():
            raise ConfigError(f"{path} has no tokenizer.json; the ONNX backend needs a fast tokenizer (use embed.backend: torch)")
        onnx_path, info = ensure_onnx(path, cache_root, name, quantize)
        self.name = name
        self.quantize = quantize
        self.batch_size = batch_size
        self.dim = int(info["dim"])
        self.onnx_path = onnx_path
        self._tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(info["max_seq_length"]))
        self._tokenizer.no_padding()
        pad = self._tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad is None else int(pad)
        batch_threads = threads if batch_threads is None else batch_threads

        def session(n: int) -> ort.InferenceSession:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = n
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.log_severity_level = 3
            # Spinning workers burn a core while waiting for work: on a shared machine that CPU is
            # taken from the other requests (README "Speed and scale", bench/threads.py).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
            return ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])

        # Questions (one text) and batches (ingest) may want different thread counts; one session when they agree.
        self._session = session(threads)
        self._batch_session = self._session if batch_threads == threads else session(batch_threads)
        log.info(
            "loaded ONNX embedding model %s (%s, dim %d, %d threads per question, %d per batch, spinning %s) from %s in %.2f s",
            name, quantize, self.dim, threads, batch_threads, "on" if spinning else "off", onnx_path, time.perf_counter() - started,
        )

    def _run(self, encodings: Sequence[Any], session: Any) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for i, e in enumerate(encodings):
            n = len(e.ids)
            ids[i, :n] = e.ids
            mask[i, :n] = e.attention_mask
            types[i, :n] = e.type_ids
        out = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        return np.asarray(out, dtype=np.float32)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return normalised embeddings, one row per text (batched by token count, so little padding is computed)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(texts) == 1:
            return self._run([self._tokenizer.encode(texts[0])], self._session)
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._run([encodings[i] for i in chunk], self._batch_session)
        return out
