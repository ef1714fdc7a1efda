from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import load_settings
from qa.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_come_from_config_yaml_and_paths_resolve_against_it() -> None:
    s = load_settings(ROOT / "config.yaml", environ={})
    assert s.answer.provider == "extractive"
    assert s.store.mode == "embedded"
    assert s.paths.seeds == ROOT / "seeds"


@pytest.mark.parametrize(
    "env, key, value",
    [
        pytest.param({"QA_RETRIEVE__TOP_K": "8"}, ("retrieve", "top_k"), 8, id="int"),
        pytest.param({"QA_ANSWER__PROVIDER": "openai"}, ("answer", "provider"), "openai", id="literal"),
        pytest.param({"QA_STORE__MODE": "server"}, ("store", "mode"), "server", id="store-mode"),
        pytest.param({"QA_API_KEY": "s3cret"}, ("server", "api_key"), "s3cret", id="api-key"),
    ],
)
def test_environment_overrides(env: dict[str, str], key: tuple[str, str], value: object) -> None:
    s = load_settings(ROOT / "config.yaml", environ=env)
    assert getattr(getattr(s, key[0]), key[1]) == value


@pytest.mark.parametrize(
    "env, needle",
    [
        pytest.param({"QA_RETRIEVE__TOP_K": "0"}, "retrieve.top_k", id="out-of-range"),
        pytest.param({"QA_RETRIEVE__TOP_K": "many"}, "retrieve.top_k", id="not-a-number"),
        pytest.param({"QA_ANSWER__PROVIDER": "magic"}, "answer.provider", id="unknown-provider"),
        pytest.param({"QA_STORE__MODE": "cloud"}, "store.mode", id="unknown-mode"),
        pytest.param({"QA_RETRIEVE__TOPK": "3"}, "retrieve.topk", id="unknown-key"),
        pytest.param({"QA_NOPE__X": "1"}, "nope", id="unknown-section"),
    ],
)
def test_invalid_values_fail_fast_naming_the_key(env: dict[str, str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_settings(ROOT / "config.yaml", environ=env)


def test_a_value_fitting_no_member_of_a_union_names_the_key_and_its_variable_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(ROOT / "config.yaml", environ={"QA_EMBED__ONNX_SPINNING": "maybe"})
    message = str(err.value)
    assert message.startswith("invalid config value for 'embed.onnx_spinning' (env QA_EMBED__ONNX_SPINNING): ")
    assert "valid boolean" in message and "'adaptive'" in message and "more)" not in message


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml", environ={})


def test_malformed_yaml_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("retrieve: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(bad, environ={})
