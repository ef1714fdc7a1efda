"""The `qa` command as a user runs it: real model, real store, exit codes and JSON shape."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QA = [sys.executable, "-m", "qa.cli"]


def run(args: list[str], data: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "QA_PATHS__DATA_DIR": str(data), **env}
    return subprocess.run(QA + args, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli-store")
    result = run(["ingest", "-q"], path)
    assert result.returncode == 0, result.stderr
    assert "9 passages: 9 embedded" in result.stdout
    return path


def test_reingest_embeds_nothing(data: Path) -> None:
    result = run(["ingest", "-q"], data)
    assert result.returncode == 0
    assert "0 embedded, 9 unchanged, 0 removed" in result.stdout


def test_ask_json_prints_exactly_the_answer_object(data: Path) -> None:
    result = run(["ask", "--json", "What resolution did Zhang Jun wish all countries would abide by?"], data)
    assert result.returncode == 0, result.stderr
    obj = json.loads(result.stdout)
    assert set(obj) == {"answer", "refused", "standalone_question", "citations", "passages", "timings_ms"}
    c = obj["citations"][0]
    assert set(c) == {"n", "passage_id", "source", "paragraph", "text", "quote", "start", "end", "support", "heading", "page", "title"}
    assert c["text"][c["start"] : c["end"]] == c["quote"]
    assert c["source"] == "000_ff359896b2990186.txt"
    assert set(obj["passages"][0]) == {"passage_id", "source", "paragraph", "text", "score", "page", "heading"}


def test_ask_with_history_file(data: Path, tmp_path: Path) -> None:
    history = tmp_path / "h.json"
    history.write_text(json.dumps([
        {"role": "user", "content": "Who is the Chinese ambassador to the UN?"},
        {"role": "assistant", "content": "Chinese Ambassador to the United Nations Zhang Jun said Tuesday. [1]"},
    ]))
    result = run(["ask", "--json", "--history", str(history), "What does he want parties to do in Ukraine?"], data)
    assert result.returncode == 0, result.stderr
    assert "Zhang Jun" in json.loads(result.stdout)["standalone_question"]


@pytest.mark.parametrize(
    "args, env, needle",
    [
        pytest.param(["ask", "   "], {}, "question is empty", id="empty-question"),
        pytest.param(["ask", "x" * 2001], {}, "limit is 2000", id="long-question"),
        pytest.param(["ask", "hi"], {"QA_RETRIEVE__TOP_K": "zero"}, "retrieve.top_k", id="bad-config"),
        pytest.param(["ask", "hi"], {"QA_STORE__COLLECTION": "nothing-here"}, "run `qa ingest` first", id="missing-store"),
        pytest.param(["ask", "--history", "/nonexistent.json", "hi"], {}, "cannot read history file", id="missing-history"),
        pytest.param(["ingest", "/nonexistent-folder"], {}, "no such file or folder", id="missing-folder"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(data: Path, args: list[str], env: dict[str, str], needle: str) -> None:
    result = run(args, data, **env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1


def test_a_failed_ingest_keeps_the_store(data: Path, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("A fine paragraph.\n")
    (docs / "bad.txt").write_bytes(b"\x00\x01binary")
    result = run(["ingest", "-q", str(docs)], data)
    assert result.returncode == 2 and "bad.txt" in result.stderr
    again = run(["ingest", "-q"], data)
    assert "9 unchanged" in again.stdout


def test_serve_with_an_unreachable_provider_stops_with_one_clear_error(data: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    result = run(
        ["serve", "--port", str(dead)], data,
        QA_ANSWER__PROVIDER="openai", QA_ANSWER__BASE_URL=f"http://127.0.0.1:{dead}/v1",
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.stderr
    assert f"127.0.0.1:{dead}" in errors[0]
