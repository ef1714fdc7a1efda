"""A cheap cross-process signal that the embedded store's sqlite file was committed to, read without any sqlite lock."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The file Chroma's PersistentClient keeps its collections' metadata in (the corpus version among them).
CHROMA_SQLITE = "chroma.sqlite3"
# sqlite's file format: the "file change counter" (4 bytes at offset 24) is incremented by every commit in
# rollback-journal mode; byte 18 is 2 in WAL mode, where commits go to the -wal file and the -shm index
# counts them instead (its header's iChange and mxFrame, in the first 48 bytes).
_COUNTER = slice(24, 28)
_WAL_FORMAT = 18
_SHM_HEADER = 48


class CommitCounter:
    """A value that changes with every commit to a sqlite file by any connection, any process (Chroma's own too).

    It is read from the file's headers, never through sqlite: a reader asking sqlite would take a
    shared lock and, in rollback-journal mode, hold up the writer it is watching for. Reading it
    costs microseconds against a fraction of a millisecond for the store's corpus version, so a
    reader reads the version only when this value moved. A value may also move without a commit
    (a replaced or missing file): the caller then reads the store itself, which is never wrong.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reads = 0

    def __call__(self) -> tuple[Any, ...]:
        """Return the current value (unequal to an earlier one when the file was committed to since)."""
        try:
            st = os.stat(self.path)
            with open(self.path, "rb") as f:
                head = f.read(100)
        except OSError:
            # No file: never "unchanged", so the caller reads the store itself, which says what is wrong.
            self._reads += 1
            return ("missing", self._reads)
        value: tuple[Any, ...] = (st.st_dev, st.st_ino, head[_COUNTER], st.st_size, st.st_mtime_ns)
        if len(head) > _WAL_FORMAT and head[_WAL_FORMAT] == 2:
            value += (_read(Path(f"{self.path}-shm"), _SHM_HEADER), _stat(Path(f"{self.path}-wal")))
        return value


def _read(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_size, st.st_mtime_ns)


def open_commit_counter(client: Any) -> CommitCounter | None:
    """Return the probe of a Chroma client's files on this machine (PersistentClient), or None (in memory, or a Chroma server)."""
    settings = client.get_settings()
    if not settings.is_persistent:
        return None
    path = Path(settings.persist_directory) / CHROMA_SQLITE
    if not path.is_file():
        log.warning("no %s to watch; the corpus version is read on every question instead", path)
        return None
    return CommitCounter(path)
