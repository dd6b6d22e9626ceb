"""`--save-attachments`: the officer's own private folder, new files only, mode 0600, no symlinks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from intake.cli.case_view import save_attachments
from intake.errors import Refused
from intake.triage.actions import AttachmentContent

FILES = [
    AttachmentContent("a1", "image/jpeg", "photo.jpg", b"CANARY-PHOTO"),
    AttachmentContent("a2", "application/pdf", None, b"CANARY-PDF"),
]
REF = "HRD-2026-ABCD"


def test_files_are_new_and_private(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    written = save_attachments(folder, REF, FILES)
    assert [p.name for p in written] == [f"{REF}-1", f"{REF}-2"]
    assert written[0].read_bytes() == b"CANARY-PHOTO"
    assert {oct(p.stat().st_mode & 0o777) for p in written} == {"0o600"}
    assert oct(folder.stat().st_mode & 0o777) == "0o700"


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir(mode=0o700)
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    (folder / f"{REF}-1").symlink_to(victim)
    with pytest.raises(Refused, match="exists"):
        save_attachments(folder, REF, FILES)
    assert victim.read_bytes() == b"untouched"


def test_an_existing_file_is_not_overwritten(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir(mode=0o700)
    (folder / f"{REF}-1").write_bytes(b"earlier")
    with pytest.raises(Refused, match="not overwritten"):
        save_attachments(folder, REF, FILES)
    assert (folder / f"{REF}-1").read_bytes() == b"earlier"


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o722, 0o1777])
def test_a_folder_others_can_write_is_refused(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(mode)
    with pytest.raises(Refused, match="writable by others"):
        save_attachments(folder, REF, FILES)
    assert list(folder.iterdir()) == []


def test_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    with pytest.raises(Refused, match="symlink"):
        save_attachments(tmp_path / "link", REF, FILES)
    assert list(real.iterdir()) == []


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to hand a folder to another user")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(Refused, match="not owned by you"):
        save_attachments(folder, REF, FILES)
