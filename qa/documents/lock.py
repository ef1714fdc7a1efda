"""One writer per embedded store: an exclusive lock file in the data folder, released by the OS when its holder dies."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO

from qa.errors import StoreError

LOCK_NAME = "writer.lock"


class WriterLock:
    """Holds `<data_dir>/writer.lock`; says who holds it when another process already does."""

    def __init__(self, data_dir: Path, role: str, url: str | None = None) -> None:
        self.path = data_dir / LOCK_NAME
        self.role = role
        self.url = url
        self._file: IO[str] | None = None

    def holder(self) -> dict[str, object]:
        """Return what the current holder wrote about itself ({} when unknown)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8") or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> WriterLock:
        """Take the lock or raise StoreError naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            raise StoreError(self._busy_message()) from None
        f.seek(0)
        f.truncate()
        f.write(json.dumps({"pid": os.getpid(), "role": self.role, "url": self.url}))
        f.flush()
        self._file = f
        return self

    def _busy_message(self) -> str:
        who = self.holder()
        pid, role, url = who.get("pid", "?"), who.get("role", "another process"), who.get("url")
        if role == "serve" and url:
            return (
                f"a server (`qa serve`, pid {pid}) owns the store in {self.path.parent} and serves it at {url}: "
                f"add, replace or delete documents through it (the chat's Documents panel, or `curl -F files=@FILE {url}/api/documents`; "
                f"reindex with `curl -X POST {url}/api/reindex`), or stop it and run this again"
            )
        return f"{role} (pid {pid}) is writing the store in {self.path.parent}; wait for it to finish and run this again"

    def release(self) -> None:
        """Let the lock go."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
