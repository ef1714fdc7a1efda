"""A cheap cross-process signal that the embedded store's sqlite file was written: `PRAGMA data_version`."""

from __future__ import annotations

import logging
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
        # Never written through: this connection only watches. check_same_thread=False: requests ask from worker threads.
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self.path = path

    def __call__(self) -> int:
        """Return the current data version (a different number means some other connection committed since)."""
        with self._lock:
            row = self._conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

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
