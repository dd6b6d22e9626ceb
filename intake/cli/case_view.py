"""Printing one opened case for an officer: the header, the answers, files, the timeline."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from intake.cli.common import emit_json
from intake.core.app import utcnow
from intake.triage.actions import OpenedCase
from intake.triage.queue import summary

__all__ = ["print_case", "report_view"]

# What an officer's JSON shows of the sealed payload: what the defender answered
# and how it was routed. Never the files' data keys, the return address (the
# defender's platform identity) nor any internal record id.
_REPORT_FIELDS = ("flow", "language", "answers", "routing")


def report_view(payload: dict[str, object]) -> dict[str, object]:
    """The part of a case payload an officer's script may read."""
    return {key: payload[key] for key in _REPORT_FIELDS if key in payload}


def print_case(console: Console, opened: OpenedCase, folder: Path | None, as_json: bool) -> None:
    case = summary(opened.case)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for index, item in enumerate(opened.attachments, start=1):
            target = folder / f"{case.reference}-{index}"
            target.write_bytes(item.data)
            target.chmod(0o600)
    if as_json:
        emit_json(
            {
                **case.as_json(utcnow()),
                "report": report_view(opened.payload),
                # Files by their number in this case (as --save-attachments names them).
                "attachments": [
                    {"n": n, "media_type": a.media_type, "size": len(a.data)}
                    for n, a in enumerate(opened.attachments, start=1)
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
    for n, item in enumerate(opened.attachments, start=1):
        console.print(Text(f"attachment {n}: {item.media_type}, {len(item.data)} bytes"))
    for event in opened.events:
        console.print(
            Text(f"[{event.created_at:%Y-%m-%d %H:%M}] {event.kind} by {event.author}:")
        )
        console.print(Text(event.text))


