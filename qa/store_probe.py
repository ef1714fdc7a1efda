"""A cheap cross-process signal that the embedded store's sqlite file was written: `PRAGMA data_version`."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The file Chroma's PersistentClient keeps its collections' metadata in (the corpus version among them).
CHROMA_SQLITE = "chroma.sqlite3"


class DataVersion:
    """`PRAGMA data_version` of a sqlite file on a connection kept open: it changes whenever another connection commits.

    Any connection means another process too, and Chroma's own in this process. Reading it costs
    microseconds against a fraction of a millisecond for the store's corpus version, so a reader
    reads the version only when this number moved.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._reopened = 0
        self._conn, self._file = self._connect()

    def _connect(self) -> tuple[sqlite3.Connection, tuple[int, int]]:
        # Never written through: this connection only watches. check_same_thread=False: requests ask from worker threads.
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        st = os.stat(self.path)
        return conn, (st.st_dev, st.st_ino)

    def __call__(self) -> int:
        """Return the current data version (a different number means some other connection committed since)."""
        with self._lock:
            try:
                st = os.stat(self.path)
            except OSError:
                # No file: never "unchanged", so the caller reads the store itself, which says what is wrong.
                self._reopened += 1
                return -(self._reopened << 32)
            if (st.st_dev, st.st_ino) != self._file:
                # The file was replaced (a data folder deleted and made again): watch the new one, and report a move.
                self._conn.close()
                self._conn, self._file = self._connect()
                self._reopened += 1
            row = self._conn.execute("PRAGMA data_version").fetchone()
        # Versions of a new connection start again from small numbers: the reopen count keeps the value moving.
        return int(row[0]) - (self._reopened << 32)

    def close(self) -> None:
        """Close the watching connection."""
        with self._lock:
            self._conn.close()


def open_data_version(client: Any) -> DataVersion | None:
    """Return the probe of a Chroma client's files on this machine (PersistentClient), or None (in memory, or a Chroma server)."""
    settings = client.get_settings()
    if not settings.is_persistent:
        return None
    path = Path(settings.persist_directory) / CHROMA_SQLITE
    if not path.is_file():
        log.warning("no %s to watch; the corpus version is read on every question instead", path)
        return None
    try:
        probe = DataVersion(path)
        probe()
    except sqlite3.Error as exc:
        log.warning("cannot watch %s (%s); the corpus version is read on every question instead", path, exc)
        return None
    return probe
