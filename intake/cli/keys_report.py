"""`keys status`, `keys verify` and `keys rewrap`: what security staff look at and run often."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from crypto import CryptoError
from intake.cli.common import (
    EXIT_REFUSED,
    Context,
    emit_json,
    fail,
    id_table,
    pass_context,
    recovery_key_option,
)
from intake.cli.progress import progress_bar
from intake.core.desks import build_key_desk, utcnow
from intake.keys.directory import directory_problems
from intake.keys.holders import KeysAtHand
from intake.keys.recovery import recovery_keys_at_hand
from intake.keys.rewrap import DEFAULT_BATCH
from intake.keys.seal_verify import verify_sealed_records
from intake.keys.status import KeyStatus, key_status
from intake.keys.verify import VerifyReport, verify_keyring_records


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def keys_status(ctx: Context, as_json: bool) -> None:
    """Every key: age, records it protects, encryptions, what is due. Warnings on stderr."""
    settings = ctx.settings
    keyring = ctx.cipher.keyring()
    with ctx.sessions() as session:
        status = key_status(session, keyring, settings.keys, settings.home, utcnow())
    untrusted = directory_problems(ctx.sessions, keyring)
    if as_json:
        emit_json({**status.as_json(), "untrusted_keys": untrusted})
    else:
        _print_status(ctx, status)
    for warning in status.warnings:
        click.echo(f"warning: {warning}", err=True)
    for problem in untrusted:
        click.echo(f"UNTRUSTED: {problem}", err=True)
    if untrusted:
        fail(
            f"{len(untrusted)} public keys do not verify under the keyring: nothing is sealed to them"
        )
    if status.unreadable:
        # Cases wait where nobody sees them: a failure to act on, not a note.
        fail(
            "cases no officer can open: "
            + ", ".join(f"{u.mission} ({u.cases})" for u in status.unreadable),
            EXIT_REFUSED,
        )


def _print_status(ctx: Context, status: KeyStatus) -> None:
    table = Table("kind", "version", "age (days)", "state", "records", "encryptions", "due")
    for v in status.keyring:
        state = "retired" if v.retired else ("primary" if v.primary else "decrypt only")
        records = ", ".join(f"{t} {n:,}" for t, n in sorted(v.records.items())) or "-"
        spent = "-" if v.encryptions is None else f"{v.encryptions:,}"
        table.add_row(
            v.kind, str(v.version), str(v.age_days), state, records, spent, "DUE" if v.due else ""
        )
    ctx.console.print("keyring (server)", table)
    table = id_table("officer", "mission", "key", "age (days)", "due", ids=("officer", "mission", "key"))
    for o in status.officers:
        table.add_row(o.officer, o.mission, o.key_id, str(o.age_days), "DUE" if o.due else "")
    ctx.console.print("officer keys", table)
    table = id_table("mission", "version", "key", "age (days)", "current", "officers", "due", ids=("mission", "key"))
    for m in status.missions:
        table.add_row(
            m.mission,
            str(m.version),
            m.key_id,
            str(m.age_days),
            "yes" if m.current else "",
            str(m.members),
            "DUE" if m.due else "",
        )
    ctx.console.print("mission keys", table)
    table = id_table("recovery key", "state", "age (days)", "seals", "due", ids=("recovery key",))
    for r in status.recovery:
        table.add_row(r.key_id, r.state, str(r.age_days), f"{r.seals:,}", "DUE" if r.due else "")
    ctx.console.print("recovery keys", table)


@click.command("rewrap")
@click.option(
    "--batch",
    default=DEFAULT_BATCH,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Records per transaction.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_context
def keys_rewrap(ctx: Context, batch: int, as_json: bool) -> None:
    """Re-wrap data keys under the primary KEK (resumable; safe beside the service)."""
    cipher = ctx.cipher
    desk = build_key_desk(ctx.settings, ctx.sessions)
    primary = cipher.keyring().primary("kek")
    pending = desk.pending_rewrap(cipher)
    with progress_bar(ctx.errors, f"rewrap to kek {primary}", pending) as advance:
        report = desk.rewrap(cipher, batch, advance, pending)
    if as_json:
        emit_json(
            {
                "primary": primary,
                "rewrapped": report.rewrapped,
                "raced": report.raced,
                "remaining": report.remaining,
                "failures": [f.__dict__ for f in report.failures],
            }
        )
    else:
        click.echo(f"{report.rewrapped:,} records rewrapped under kek version {primary}")
        for failure in report.failures:
            click.echo(f"  FAILED {failure.table} {failure.record_id}: {failure.error}", err=True)
    if report.stopped:
        fail(f"stopped after {len(report.failures)} records failed to unwrap: is this the keyring?")
    if report.remaining:
        fail(
            f"{report.remaining:,} records are still on older versions"
            + (" (those that failed)" if report.failures else "; run keys rewrap again")
        )


@click.command("verify")
@click.option(
    "--sample", type=click.IntRange(1), help="Check this many random records of each kind."
)
@recovery_key_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def keys_verify(ctx: Context, sample: int | None, recovery_key: Path | None, as_json: bool) -> None:
    """Decrypt every record (or a sample) with the keys at hand; exit 1 if any fails."""
    recovery: KeysAtHand | None = None
    if recovery_key is not None:
        try:
            recovery = recovery_keys_at_hand(recovery_key)
        except CryptoError as exc:
            fail(f"cannot read the recovery key file: {exc}")
    report = VerifyReport()
    with progress_bar(ctx.errors, "verify", None) as advance:
        verify_keyring_records(ctx.sessions, ctx.cipher, report, sample, advance)
        verify_sealed_records(ctx.sessions, ctx.cipher, report, recovery, sample, advance)
    untrusted = directory_problems(ctx.sessions, ctx.cipher.keyring())
    build_key_desk(ctx.settings, ctx.sessions).record_verify(
        recovery, sample, sum(report.checked.values()), len(report.failures) + len(untrusted)
    )
    if as_json:
        emit_json({**report.as_json(), "untrusted_keys": untrusted})
    else:
        for kind, count in sorted(report.checked.items()):
            unchecked = report.unchecked.get(kind, 0)
            note = f" ({unchecked:,} sealed, not opened: no --recovery-key)" if unchecked else ""
            click.echo(f"{kind}: {count:,} checked{note}")
        for f in report.failures:
            click.echo(f"  FAILED {f.record_type} {f.record_id}: {f.problem}", err=True)
        for problem in untrusted:
            click.echo(f"  UNTRUSTED {problem}", err=True)
    if untrusted:
        fail(
            f"{len(untrusted)} public keys do not verify under the keyring (see keys authenticate)"
        )
    if not report.ok:
        fail(f"{len(report.failures)} records failed verification")
    if not as_json:
        click.echo("every record checked opens")


@click.command("authenticate")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def keys_authenticate(ctx: Context, as_json: bool) -> None:
    """Trust the key directory as the database holds it now (once, after upgrading).

    Pins the active recovery key in the keyring and puts a MAC on every mission
    and officer key row. Whatever the database holds at this moment becomes
    trusted: check `keys status` first (a database someone else could write
    since the upgrade should be restored from a backup instead).
    """
    report = build_key_desk(ctx.settings, ctx.sessions).authenticate()
    if as_json:
        emit_json(
            {"missions": report.missions, "officers": report.officers, "pinned": report.pinned}
        )
        return
    click.echo(
        f"key directory authenticated: {report.missions} mission key rows, {report.officers}"
        f" officer rows; recovery key pinned: {report.pinned or 'none (run keys recovery init)'}"
    )
