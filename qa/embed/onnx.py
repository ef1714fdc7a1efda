"""The ONNX embedder: the exported model served with onnxruntime and the model's own fast tokenizer, without torch."""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

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
        spinning: bool | Literal["adaptive"] = False,
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

        def session(n: int, spin: bool) -> ort.InferenceSession:
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = n
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.log_severity_level = 3
            # Spinning workers skip a wake-up per operator, but burn a core while waiting for work: beside
            # other busy work that CPU is taken from it (README "Speed and scale", bench/threads.py).
            opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
            if spin:
                # Spin within a run (no wake-up per operator), never between runs.
                opts.add_session_config_entry("session.force_spinning_stop", "1")
            return ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])

        # Questions (one text) and batches (ingest) may want different thread counts; one session when they agree.
        self._session = session(threads, spinning is True)
        self._batch_session = self._session if batch_threads == threads else session(batch_threads, spinning is True)
        # adaptive: a second, spinning session for questions, used while it is the faster of the two.
        adaptive = spinning == "adaptive" and threads > 1
        self._sessions = _QuestionSessions(self._session, session(threads, True) if adaptive else None)
        log.info(
            "loaded ONNX embedding model %s (%s, dim %d, %d threads per question, %d per batch, spinning %s) from %s in %.2f s",
            name, quantize, self.dim, threads, batch_threads, "adaptive" if adaptive else "on" if spinning is True else "off",
            onnx_path, time.perf_counter() - started,
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
            return self._sessions.run(lambda session: self._run([self._tokenizer.encode(texts[0])], session))
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with self._sessions.beside():  # questions asked meanwhile share the cores with this batch
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                out[chunk] = self._run([encodings[i] for i in chunk], self._batch_session)
        return out


_NAMES = ("plain", "spinning")


class _QuestionSessions:
    """Per question, the plain session or the spinning one: whichever has been faster lately.

    A spinning session answers a question in about three quarters of the plain one's time when idle,
    but beside another busy process, or with two questions at once, its spinning workers fight for
    the cores and it is the slower (bench/threads.py). So a question asked alone goes to the session
    whose recent times have the lower median, and every EXPLORE_EVERY-th to the other one, so that a
    change of load is noticed. Questions that overlap another question or a batch (``beside``), and
    every question for CALM_S after, go to the plain session, and their times do not count. Without
    a spinning session, every question goes to the plain one.
    """

    EXPLORE_EVERY = 16
    WINDOW = 9  # recent times per session whose median decides
    CALM_S = 1.0

    def __init__(self, plain: Any, spinning: Any | None, clock: Callable[[], float] = time.perf_counter) -> None:
        self._sessions = (plain,) if spinning is None else (plain, spinning)
        self._clock = clock
        self._times: list[deque[float]] = [deque(maxlen=self.WINDOW) for _ in self._sessions]
        self._lock = threading.Lock()
        self._running = 0
        self._started = 0
        self._overlap_at = -float("inf")
        self._explore_again = False

    def _pick(self) -> tuple[int, int | None]:
        """Return the session's index and, when its time will count, the start's ticket."""
        with self._lock:
            self._running += 1
            self._started += 1
            now = self._clock()
            if self._running > 1:
                self._overlap_at = now
            if len(self._sessions) == 1 or now - self._overlap_at < self.CALM_S:
                return 0, None
            unmeasured = [i for i, t in enumerate(self._times) if not t]
            if unmeasured:
                return unmeasured[-1], self._started
            best = self._best()
            explore = self._explore_again or self._started % self.EXPLORE_EVERY == 0
            return (1 - best if explore else best), self._started

    def _best(self) -> int:
        return 1 if statistics.median(self._times[1]) < statistics.median(self._times[0]) else 0

    def run(self, work: Callable[[Any], np.ndarray]) -> np.ndarray:
        which, ticket = self._pick()
        started = self._clock()
        try:
            return work(self._sessions[which])
        finally:
            ms = (self._clock() - started) * 1000
            with self._lock:
                self._running -= 1
                if ticket == self._started:  # nothing else started meanwhile: a clean measurement
                    best = self._best() if all(self._times) else which
                    # A session tried against the odds that beat the other's median is tried again
                    # at once, so that after a change of load the choice follows within a few questions.
                    self._explore_again = which != best and ms < statistics.median(self._times[best])
                    self._times[which].append(ms)
                    if all(self._times) and self._best() != best:
                        log.debug("questions now go to the %s session (recent medians %s ms)", _NAMES[self._best()], self.medians_ms())

    @contextmanager
    def beside(self) -> Iterator[None]:
        """Mark other work on the encoder (a batch): questions meanwhile, and for CALM_S after, use the plain session."""
        with self._lock:
            self._running += 1
            self._started += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._overlap_at = self._clock()

    def medians_ms(self) -> dict[str, float | None]:
        """The median of each session's recent times (for logs and tests)."""
        return {_NAMES[i]: statistics.median(t) if t else None for i, t in enumerate(self._times)}
