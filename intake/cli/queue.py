"""`queue`: officers' queue and triage, acting as one officer (or as security staff).

Every decision (who may act, what the case's state allows) and every audit
entry is the case desk's (`intake.triage.desk`); this module asks and prints.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from intake.cli.case_view import print_case
from intake.cli.common import (
    Context,
    emit_json,
    fail,
    id_table,
    pass_context,
    passphrase_file_option,
    read_passphrase,
    recovery_key_option,
)
from intake.core.desks import build_desk, utcnow
from intake.references import REFERENCE_MAX, CaseRef, MissionId, parse_reference
from intake.storage.models import Officer
from intake.triage.desk import Acting, CaseDesk
from intake.triage.queue import STATUSES, QueueFilter

officer_option = click.option(
    "--officer",
    "officer_id",
    envvar="HRD_INTAKE_OFFICER",
    help="Act as this officer (or HRD_INTAKE_OFFICER).",
)


def _age(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _desk(ctx: Context) -> CaseDesk:
    return build_desk(ctx.settings, ctx.sessions, ctx.cipher)


def _officer(desk: CaseDesk, officer_id: str | None, action: str, subject: str) -> Officer:
    if not officer_id:
        fail("this command acts as an officer: give --officer ID or set HRD_INTAKE_OFFICER")
    return desk.officer(officer_id, action, subject)


def _acting(
    desk: CaseDesk,
    officer: Officer | None,
    passphrase_file: Path | None,
    recovery_key: Path | None,
    subject: str,
) -> Acting:
    if recovery_key is not None:
        return desk.recovery(recovery_key)
    if officer is None:
        fail("give --officer ID (or HRD_INTAKE_OFFICER), or --recovery-key FILE")
    passphrase = read_passphrase(passphrase_file, f"Passphrase for {officer.id}")
    return desk.unlock(officer, passphrase, subject)


def _reference(text: str) -> CaseRef:
    """The reference typed, normalised; refused when no case can have it (nor audit entry name it)."""
    reference = parse_reference(text) or CaseRef(text.strip())
    if len(reference) > REFERENCE_MAX:
        fail("not a case reference (HRD-XXXX-XXXX)")
    return reference


def _read_text(source: Path | None, what: str) -> str:
    if source is None and sys.stdin.isatty():
        click.echo(f"Type the {what}; end with Ctrl-D on a line of its own.", err=True)
    text = source.read_text(encoding="utf-8") if source is not None else sys.stdin.read()
    text = text.strip()
    if not text:
        fail(f"empty {what}: write it on standard input or in --file")
    return text


def _officer_acting(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None, action: str
) -> tuple[CaseDesk, CaseRef, Acting]:
    desk = _desk(ctx)
    ref = _reference(reference)
    officer = _officer(desk, officer_id, action, ref)
    return desk, ref, _acting(desk, officer, passphrase_file, None, ref)


@click.group()
def queue() -> None:
    """Liaison queues and triage. Case content never comes from the command line."""


@queue.command("list")
@officer_option
@click.option("--mission", "missions_", multiple=True, help="Only this mission (operator view).")
@click.option(
    "--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Only this state."
)
@click.option("--kind", "kinds", multiple=True, help="Only this kind (threat_report, ...).")
@click.option("--country", "countries", multiple=True, help="Only this country (ISO code).")
@click.option("--mine", is_flag=True, help="Only the cases you hold (with --officer).")
@click.option("--answered", is_flag=True, help="Only cases the defender answered.")
@click.option("--reference", "reference_prefix", help="Only references starting so.")
@click.option("--closed", "include_closed", is_flag=True, help="Closed cases too.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_list(
    ctx: Context,
    officer_id: str | None,
    missions_: tuple[str, ...],
    statuses: tuple[str, ...],
    kinds: tuple[str, ...],
    countries: tuple[str, ...],
    mine: bool,
    answered: bool,
    reference_prefix: str | None,
    include_closed: bool,
    limit: int,
    offset: int,
    as_json: bool,
) -> None:
    """List open cases, most urgent then oldest (metadata only). An officer sees their mission only."""
    desk = _desk(ctx)
    officer = _officer(desk, officer_id, "queue.list", "queue") if officer_id else None
    if mine and officer is None:
        fail("--mine needs --officer ID (or HRD_INTAKE_OFFICER)")
    wanted = QueueFilter(
        kinds=kinds,
        countries=tuple(c.upper() for c in countries),
        claimed_by=officer.id if mine and officer is not None else None,
        answered=answered,
        reference=(reference_prefix or "").strip().upper() or None,
        include_closed=include_closed,
    )
    page = desk.list(
        officer,
        [MissionId(m) for m in missions_],
        statuses,
        limit=limit,
        offset=offset,
        wanted=wanted,
    )
    now = utcnow()
    if as_json:
        emit_json([case.as_json(now) for case in page])
        return
    # An officer's page is their own mission: no mission column, more room for the rest.
    columns = ["reference", "mission", "kind", "urgency", "status", "age", "claimed by", "flag"]
    if officer is not None:
        columns.remove("mission")
    # The reference is what the officer types next: never cut, never wrapped (nor ids).
    table = id_table(*columns, ids=("reference", "claimed by"))
    for case in page:
        age = _age(int((now - case.submitted_at).total_seconds()))
        flags = [f for f, on in (("duress", case.flagged), ("answered", case.answered)) if on]
        cells = {
            "reference": case.reference,
            "mission": case.mission,
            "kind": case.kind,
            "urgency": case.urgency,
            "status": case.status,
            "age": age,
            "claimed by": case.claimed_by or "",
            "flag": " ".join(flags),
        }
        table.add_row(*(cells[name] for name in columns))
    ctx.console.print(table)


@queue.command("checkins")
@officer_option
@click.option("--mission", "missions_", multiple=True, help="Only this mission (operator view).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_checkins(
    ctx: Context, officer_id: str | None, missions_: tuple[str, ...], as_json: bool
) -> None:
    """Running safety check-ins: state and next due time (no content). Missed ones first."""
    desk = _desk(ctx)
    officer = _officer(desk, officer_id, "queue.checkins", "queue") if officer_id else None
    listing = desk.checkins(officer, [MissionId(m) for m in missions_])
    if as_json:
        emit_json(
            [
                {
                    "id": item.id,
                    "mission": item.mission_id,
                    "channel": item.channel,
                    "state": item.state,
                    "mode": item.mode,
                    "interval_minutes": item.interval_minutes,
                    "next_due_at": item.due_at.isoformat() if item.due_at else None,
                    "started_at": item.started_at.isoformat(),
                    "updated_at": item.updated_at.isoformat(),
                }
                for item in listing
            ]
        )
        return
    table = id_table(
        "check-in", "mission", "channel", "state", "every", "next due (UTC)", "since",
        ids=("mission", "state"),  # what an officer reads at a glance: never broken
    )
    for item in listing:
        every = f"{item.interval_minutes // 60}h" if item.interval_minutes else "once"
        due = f"{item.due_at:%Y-%m-%d %H:%M}" if item.due_at else "MISSED: see the queue"
        table.add_row(
            item.id[:12], item.mission_id, item.channel, item.state, every, due,
            f"{item.started_at:%Y-%m-%d %H:%M}",
        )
    ctx.console.print(table)


@queue.command("show")
@click.argument("reference")
@officer_option
@passphrase_file_option
@recovery_key_option
@click.option(
    "--save-attachments",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the case's files into this folder (created 0700).",
)
@click.option(
    "--lang",
    "language",
    envvar="HRD_INTAKE_OFFICER_LANGUAGE",
    default="en",
    show_default=True,
    help="Show the questions and answers in this language (en, fr, es, ar, ru, uk).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def queue_show(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    recovery_key: Path | None,
    save_attachments: Path | None,
    language: str,
    as_json: bool,
) -> None:
    """Decrypt and show one case with your key (audited)."""
    desk = _desk(ctx)
    ref = _reference(reference)
    officer = None if recovery_key else _officer(desk, officer_id, "case.open", ref)
    acting = _acting(desk, officer, passphrase_file, recovery_key, ref)
    file, opened = desk.case_file(ref, acting, language)
    print_case(ctx.console, file, opened, save_attachments, as_json)
