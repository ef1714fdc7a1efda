"""Read documents from disk: all file I/O of ingestion lives here."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from qa.errors import InputError
from qa.types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown")


@dataclass
class LoadResult:
    """Documents read, and files skipped with the reason."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data:
        raise InputError(f"{path}: looks like a binary file (contains NUL bytes); remove it or convert it to text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def _iter_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts))


def load_documents(paths: list[Path], max_file_bytes: int) -> LoadResult:
    """Return the text documents under the given files or folders; unsupported files are skipped with a warning."""
    result = LoadResult()
    for root in paths:
        if not root.exists():
            raise InputError(f"{root}: no such file or folder")
        base = root.parent if root.is_file() else root
        for path in _iter_files(root):
            rel = path.relative_to(base).as_posix()
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                log.warning("skipping %s: unsupported file type %r (supported: %s)", rel, path.suffix, ", ".join(SUPPORTED_SUFFIXES))
                result.skipped.append((rel, "unsupported file type"))
                continue
            try:
                size = path.stat().st_size
                if size > max_file_bytes:
                    raise InputError(f"{path}: {size} bytes is over the limit of {max_file_bytes} (limits.max_file_bytes)")
                data = path.read_bytes()
            except OSError as exc:
                raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
            result.documents.append(Document(source=rel, text=_decode(path, data)))
    if not result.documents:
        where = ", ".join(str(p) for p in paths)
        raise InputError(f"no documents to ingest in {where} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return result
