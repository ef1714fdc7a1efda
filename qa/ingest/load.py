"""Read files from disk: all file I/O of ingestion lives here.

Only regular files inside the chosen folders are read: a symbolic link (to a file or a
folder) is refused, never followed, so a link to /etc/passwd cannot be served to anyone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import InputError, TooLarge
from qa.ingest.formats import SUPPORTED_SUFFIXES, kind_of

log = logging.getLogger(__name__)


@dataclass
class LoadResult:
    """Files read (name relative to their folder, bytes), and files skipped with the reason."""

    files: list[tuple[str, bytes]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _walk(root: Path) -> list[Path]:
    """Return the regular files under root (hidden ones left out), without following links."""
    out: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        # A linked folder is listed (and refused by the caller), never walked into.
        out.extend(Path(folder) / d for d in sorted(dirs) if not d.startswith(".") and (Path(folder) / d).is_symlink())
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(folder) / d).is_symlink())
        out.extend(Path(folder) / f for f in sorted(files) if not f.startswith("."))
    return out


def load_files(paths: list[Path], max_file_bytes: int) -> LoadResult:
    """Return the supported files under the given files or folders; links and unsupported files are skipped with the reason."""
    result = LoadResult()
    seen: dict[str, Path] = {}
    for root in paths:
        if root.is_symlink():
            raise InputError(f"{root}: is a symbolic link; give the real file or folder (links are not followed)")
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        base = root.parent if root.is_file() else root
        real_base = base.resolve()
        # With several folders, names carry the folder's name, so a.txt in two folders are two documents.
        prefix = f"{root.name}/" if len(paths) > 1 and root.is_dir() else ""
        for path in [root] if root.is_file() else _walk(root):
            rel = prefix + path.relative_to(base).as_posix()
            if path.is_symlink():
                log.warning("skipping %s: a symbolic link (not followed)", rel)
                result.skipped.append((rel, "symbolic link, not followed"))
                continue
            if not path.resolve().is_relative_to(real_base):
                result.skipped.append((rel, "outside the chosen folder"))
                continue
            try:
                kind_of(rel)
            except InputError:
                log.warning("skipping %s: unsupported file type %r (supported: %s)", rel, path.suffix, ", ".join(SUPPORTED_SUFFIXES))
                result.skipped.append((rel, "unsupported file type"))
                continue
            if rel in seen:
                raise InputError(f"{seen[rel]} and {path} would both be named {rel!r}; rename one of them")
            seen[rel] = path
            try:
                size = path.stat().st_size
                if size > max_file_bytes:
                    raise TooLarge(f"{path}: {size} bytes is over the limit of {max_file_bytes} (limits.max_file_bytes)")
                data = path.read_bytes()
            except OSError as exc:
                raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
            result.files.append((rel, data))
    if not result.files:
        where = ", ".join(str(p) for p in paths)
        raise InputError(f"no documents to ingest in {where} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return result
