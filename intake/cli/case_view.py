"""Printing one case for an officer, as the case renderer (`intake.triage.case_file`) words it.

The header (reference, kind, state, country, the defender's language,
submission time), the questions and answers as the flow labels them in the
officer's language, the files, and the whole timeline. The reference is never
cut: it is what the officer types next.

`--save-attachments FOLDER` writes the case's files in clear text, so the
folder must be the officer's own: owned by this user, not writable by group
or others (who could swap a file or plant a symlink between our check and our
write), and not itself a symlink. Each file is created new (O_CREAT|O_EXCL,
never overwriting, never following a symlink: O_NOFOLLOW), mode 0600,
relative to the folder opened once (no path is looked up twice).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from intake.cli.common import emit_json
from intake.core.desks import utcnow
from intake.errors import Refused
from intake.triage.actions import AttachmentContent, OpenedCase
from intake.triage.case_file import CaseFile

__all__ = ["print_case", "save_attachments"]


def save_attachments(
    folder: Path, reference: str, attachments: Sequence[AttachmentContent]
) -> list[Path]:
    """Write each file as `<reference>-<n>` in `folder` (created 0700 if missing); returns the paths.

    Raises:
        Refused: the folder is a symlink, not a folder, not owned by this user,
            or writable by group or others; or a file of that name exists.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise Refused(f"cannot use {folder} for attachments: {exc.strerror} (a symlink?)") from exc
    try:
        info = os.fstat(directory)
        if info.st_uid != os.getuid():
            raise Refused(f"{folder} is not owned by you: choose a folder of your own")
        if stat.S_IMODE(info.st_mode) & 0o022:
            raise Refused(
                f"{folder} is writable by others (mode {stat.S_IMODE(info.st_mode):o}):"
                " choose a private folder (chmod 700)"
            )
        written = []
        for index, item in enumerate(attachments, start=1):
            name = f"{reference}-{index}"
            try:
                descriptor = os.open(
                    name,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=directory,
                )
            except FileExistsError:
                raise Refused(f"{folder / name} exists: not overwritten (move it away)") from None
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(item.data)
            written.append(folder / name)
        return written
    finally:
        os.close(directory)



def print_case(
    console: Console, file: CaseFile, opened: OpenedCase, folder: Path | None, as_json: bool
) -> None:
    case = file.summary
    if folder is not None:
        save_attachments(folder, case.reference, opened.attachments)
    if as_json:
        emit_json(
            {
                **file.as_json(utcnow(), opened.payload),
                "events": [
                    {
                        "kind": e.kind,
                        "author": e.author,
                        "at": e.created_at.isoformat(),
                        "text": e.text,
                    }
                    for e in opened.events
                ],
            }
        )
        return
    # Text, not markup, everywhere: what a defender wrote is shown literally.
    console.print(Text(case.reference, style="bold"), soft_wrap=True)
    head = Table.grid(padding=(0, 2))
    head.add_column(no_wrap=True)
    head.add_column(overflow="fold")
    for label, value in (
        ("kind", file.kind_label),
        ("state", case.status + ("  (the defender answered)" if case.answered else "")),
        ("urgency", case.urgency),
        ("mission", case.mission),
        ("country", file.country),
        ("language", file.language_name),
        ("submitted", f"{case.submitted_at:%Y-%m-%d %H:%M} UTC"),
        ("claimed by", case.claimed_by or "-"),
    ):
        head.add_row(label, Text(value))
    console.print(head)
    if case.flagged:
        console.print(
            Text("FLAGGED: the defender typed the duress word", style="bold red"), soft_wrap=True
        )
    table = Table("question", "answer", show_lines=True)
    table.columns[1].overflow = "fold"
    for answer in file.answers:
        table.add_row(Text(answer.label), Text(answer.value))
    console.print(table)
    for line in file.files:
        name = f" {line.name}" if line.name else ""
        console.print(
            Text(f"file {line.index}:{name} {line.media_type}, {line.size} bytes (id {line.id})"),
            soft_wrap=True,
        )
    console.print(Text("timeline", style="bold"))
    for entry in file.timeline:
        console.print(
            Text(f"[{entry.at:%Y-%m-%d %H:%M}] {entry.what} ({entry.actor})"), soft_wrap=True
        )
        if entry.text is not None:
            console.print(Text("    " + entry.text.replace("\n", "\n    ")), soft_wrap=True)
