"""Reading folders: links are refused and never followed; names from two folders never collide."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import InputError, TooLarge
from qa.ingest.load import load_files


def test_symlinked_file_and_folder_are_refused_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "passwd.txt").write_text("root:x:0:0:root:/root:/bin/bash\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("A fine paragraph.\n")
    (docs / "passwd.txt").symlink_to(secret / "passwd.txt")
    (docs / "linked").symlink_to(secret, target_is_directory=True)
    result = load_files([docs], 10_000)
    assert [name for name, _ in result.files] == ["ok.txt"]
    assert sorted(result.skipped) == [("linked", "symbolic link, not followed"), ("passwd.txt", "symbolic link, not followed")]
    assert all(b"root:x" not in data for _, data in result.files)


def test_a_link_given_as_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.txt").write_text("text\n")
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(InputError, match="symbolic link"):
        load_files([tmp_path / "link"], 10_000)


def test_two_folders_with_the_same_relative_names_stay_two_documents(tmp_path: Path) -> None:
    for folder, text in (("2023", "Old report.\n"), ("2024", "New report.\n")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(text)
    result = load_files([tmp_path / "2023", tmp_path / "2024"], 10_000)
    assert dict(result.files) == {"2023/report.txt": b"Old report.\n", "2024/report.txt": b"New report.\n"}


def test_two_folders_with_the_same_name_are_a_clear_error(tmp_path: Path) -> None:
    for parent in ("a", "b"):
        (tmp_path / parent / "docs").mkdir(parents=True)
        (tmp_path / parent / "docs" / "x.txt").write_text(f"{parent}\n")
    with pytest.raises(InputError, match="would both be named 'docs/x.txt'"):
        load_files([tmp_path / "a" / "docs", tmp_path / "b" / "docs"], 10_000)


def test_a_file_over_the_limit_names_the_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("x" * 200)
    with pytest.raises(TooLarge, match="limits.max_file_bytes"):
        load_files([tmp_path], 100)
