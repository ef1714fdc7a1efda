"""Export the local sentence-transformers model to ONNX once (with torch), optionally quantised to int8, and cache it.

The exported graph holds the whole encoder: transformer, mean pooling over the attention
mask and L2 normalisation, so serving needs only onnxruntime and tokenizers. The model is
traced with eager attention and the TorchScript exporter, then fused offline by
onnxruntime's transformer optimizer (Attention, EmbedLayerNormalization,
SkipLayerNormalization, BiasGelu): the same vectors for less CPU per question. Files are
written to a temporary name and renamed, so two processes exporting at once never leave
a half-written model behind.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from qa.errors import ConfigError

log = logging.getLogger(__name__)

OPSET = 17
# Names the export recipe; part of the cache folder's name, so a cache written by another recipe is never reused.
RECIPE = "eager-fused-1"
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
INFO_FILE = "export.json"


def _mean_pooling(model_path: Path) -> None:
    """Refuse models whose sentence-transformers pooling is not the mean the exported graph computes."""
    modules = json.loads((model_path / "modules.json").read_text()) if (model_path / "modules.json").exists() else []
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    for m in modules:
        if str(m.get("type", "")).endswith("Pooling"):
            cfg = json.loads((model_path / m["path"] / "config.json").read_text())
            if not cfg.get("pooling_mode_mean_tokens") or any(
                cfg.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_lasttoken")
            ):
                raise ConfigError(f"the ONNX backend supports mean pooling only; {model_path} pools otherwise (use embed.backend: torch)")
    if kinds and kinds[:2] != ["Transformer", "Pooling"]:
        raise ConfigError(f"the ONNX backend supports Transformer + Pooling (+ Normalize) models, not {kinds} (use embed.backend: torch)")


def fingerprint(model_path: Path) -> str:
    """Return a cheap identity of the model files (names, sizes, modification times): a changed model is exported anew."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for f in sorted(p for p in model_path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(model_path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def export_onnx(model_path: Path, out: Path) -> dict[str, Any]:
    """Export the model at ``model_path`` to ONNX at ``out`` (fp32; pooling and normalisation inside); return its facts."""
    import torch
    from sentence_transformers import SentenceTransformer

    _mean_pooling(model_path)
    started = time.perf_counter()
    # Eager attention traces to the MatMul/Softmax pattern the optimizer fuses into one Attention op; SDPA does not.
    st = SentenceTransformer(str(model_path), device="cpu", local_files_only=True, model_kwargs={"attn_implementation": "eager"})
    transformer: Any = st[0].auto_model  # a transformers PreTrainedModel
    transformer.eval()
    max_len = int(st.max_seq_length or 256)

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    sample = st.tokenize(["an example sentence to trace the graph", "and another"])
    args = (sample["input_ids"], sample["attention_mask"], sample.get("token_type_ids", torch.zeros_like(sample["input_ids"])))
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            Encoder().eval(),
            args,
            str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "token_type_ids": {0: "batch", 1: "tokens"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    config = transformer.config
    fused = _fuse(tmp, out, num_heads=int(config.num_attention_heads), hidden_size=int(config.hidden_size))
    get_dim = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
    dim = int(get_dim() or 0)
    log.info("exported %s to ONNX at %s in %.1f s (fused: %s)", model_path, out, time.perf_counter() - started, fused)
    return {"max_seq_length": max_len, "dim": dim, "opset": OPSET, "torch": torch.__version__, "recipe": RECIPE, "fused": fused}


def _fuse(raw: Path, out: Path, *, num_heads: int, hidden_size: int) -> dict[str, int]:
    """Fuse the traced BERT graph at ``raw`` into onnxruntime's transformer ops, write it to ``out``; return the fused op counts."""
    from onnxruntime.transformers.optimizer import optimize_model

    # opt_level 0: graph rewrites in Python only, so the file stays portable across CPUs (onnxruntime
    # still applies its own hardware-specific optimisations when a session loads it).
    model = optimize_model(str(raw), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0)
    stats = {k: int(v) for k, v in model.get_fused_operator_statistics().items() if v}
    tmp = out.with_name(f".{out.name}.{os.getpid()}.fused.tmp")
    model.save_model_to_file(str(tmp))
    raw.unlink()
    os.replace(tmp, out)
    if not stats.get("Attention"):
        # Still correct, only slower: say so rather than fail an export that works.
        log.warning("the ONNX optimizer fused no Attention op into %s (fused: %s)", out.name, stats)
    return stats


def quantize_int8(src: Path, out: Path) -> None:
    """Write a dynamically int8-quantised copy of an ONNX model (weights int8 per output channel, activations per batch)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    # Per-channel weight scales keep vectors at cosine 0.99 to fp32 (per-tensor: 0.96) at the same speed.
    # The quantiser logs every tensor at INFO on the root logger: quiet it for the call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        # The fused ops (Attention, SkipLayerNormalization) are outside ONNX shape inference: their outputs are float.
        extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
        quantize_dynamic(str(src), str(tmp), weight_type=QuantType.QInt8, per_channel=True, extra_options=extra)
    finally:
        root.setLevel(level)
    os.replace(tmp, out)
    log.info("quantised %s to int8 at %s", src.name, out)


def ensure_onnx(model_path: Path, cache_root: Path, name: str, quantize: str) -> tuple[Path, dict[str, Any]]:
    """Return the cached ONNX file for the model (exporting and quantising it the first time) and its export facts."""
    folder = cache_root / f"{name}-{fingerprint(model_path)}-{RECIPE}"
    folder.mkdir(parents=True, exist_ok=True)
    fp32, info_path = folder / MODEL_FILE, folder / INFO_FILE
    if not fp32.exists() or not info_path.exists():
        log.info("exporting %s to ONNX once, into %s", name, folder)
        info = export_onnx(model_path, fp32)
        tmp = info_path.with_name(f".{info_path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, info_path)
    info = json.loads(info_path.read_text(encoding="utf-8"))
    if quantize == "none":
        return fp32, info
    int8 = folder / INT8_FILE
    if not int8.exists():
        quantize_int8(fp32, int8)
    return int8, info
