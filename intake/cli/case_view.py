"""Printing one case for an officer, as the case renderer (`intake.triage.case_file`) words it.

The header (reference, kind, state, country, the defender's language,
submission time), the questions and answers as the flow labels them in the
officer's language, the files, and the whole timeline. The reference is never
cut: it is what the officer types next.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from intake.cli.common import emit_json
from intake.core.app import utcnow
from intake.triage.actions import OpenedCase
from intake.triage.case_file import CaseFile

__all__ = ["print_case"]

# What an officer's JSON shows of the sealed payload: what the defender answered
# and how it was routed. Never the files' data keys, the return address (the
# defender's platform identity) nor any internal record id.
def print_case(
    console: Console, file: CaseFile, opened: OpenedCase, folder: Path | None, as_json: bool
) -> None:
    case = file.summary
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for index, item in enumerate(opened.attachments, start=1):
            target = folder / f"{case.reference}-{index}"
            target.write_bytes(item.data)
            target.chmod(0o600)
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
