"""Fixtures shared by the unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.runtime import Runtime
from tests.fake_runtime import fake_runtime


@pytest.fixture
def runtime(settings: Settings, ephemeral_client: Any, tmp_path: Path) -> Runtime:
    """A runtime over real (ephemeral) Chroma with the fake embedder and answerer; a module may override it."""
    return fake_runtime(settings, ephemeral_client, tmp_path / "docs")
