"""Printing one opened case for an officer: the header, the answers, files, the timeline.

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
from intake.core.app import utcnow
from intake.errors import Refused
from intake.triage.actions import AttachmentContent, OpenedCase
from intake.triage.queue import summary

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


def print_case(console: Console, opened: OpenedCase, folder: Path | None, as_json: bool) -> None:
    case = summary(opened.case)
    if folder is not None:
        save_attachments(folder, case.reference, opened.attachments)
    if as_json:
        emit_json(
            {
                **case.as_json(utcnow()),
                "report": opened.payload,
                "attachments": [
                    {"id": a.id, "media_type": a.media_type, "size": len(a.data)}
                    for a in opened.attachments
                ],
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
    header = Text(
        f"{case.reference}  {case.kind}  urgency={case.urgency}  status={case.status}  mission={case.mission}"
    )
    if case.flagged:
        header.append("  FLAGGED: the defender typed the duress word", style="bold red")
    console.print(header)
    table = Table("question", "answer", show_lines=True)
    for key, value in opened.payload.get("answers", {}).items():
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        # Text, not markup: what a defender wrote is shown literally.
        table.add_row(Text(key), Text(shown))
    console.print(table)
    for item in opened.attachments:
        console.print(Text(f"attachment {item.id}: {item.media_type}, {len(item.data)} bytes"))
    for event in opened.events:
        console.print(Text(f"[{event.created_at:%Y-%m-%d %H:%M}] {event.kind} by {event.author}:"))
        console.print(Text(event.text))
