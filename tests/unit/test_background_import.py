"""Imports off the event loop: the module comes back, an import error reaches the awaiting task, the thread is a daemon."""

from __future__ import annotations

import asyncio
import threading

import pytest

from qa.api import background

pytestmark = pytest.mark.unit


def test_the_module_is_imported_in_a_daemon_thread() -> None:
    seen: list[threading.Thread] = []
    real = threading.Thread.start

    def start(self: threading.Thread) -> None:
        seen.append(self)
        real(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(threading.Thread, "start", start)
        module = asyncio.run(background.import_module("json.tool"))
    assert module.__name__ == "json.tool"
    assert [t.daemon for t in seen] == [True] and seen[0].name == "import-json.tool"


def test_an_import_error_reaches_the_awaiting_task() -> None:
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        asyncio.run(background.import_module("no_such_module_here"))
