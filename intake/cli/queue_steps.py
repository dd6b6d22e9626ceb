"""`queue` triage steps: claim, assign, unclaim, state changes, notes, replies, transfers.

Each asks for what the step needs (the officer's passphrase, a text from
standard input or a file) and prints what the case desk says; the desk
decides and audits (`intake.triage.desk`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from intake.cli.common import Context, pass_context, passphrase_file_option
from intake.cli.queue import _officer_acting, _read_text, officer_option, queue
from intake.references import MissionId, OfficerId
from intake.triage.actions import REASON_REQUIRED
from intake.triage.workflow import TRIGGER_FOR_STATUS

__all__ = ["queue"]


@queue.command("claim")
@click.argument("reference")
@officer_option
@passphrase_file_option
@pass_context
def queue_claim(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
) -> None:
    """Take a case: it shows as yours to the rest of your mission."""
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.claim")
    click.echo(desk.claim(ref, acting))


reason_option = click.option(
    "--reason-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the reason from this file (else standard input when it is not a terminal).",
)


def _reason(source: Path | None, required: bool) -> str | None:
    """A reason is case content: from a file or standard input, never from the arguments."""
    if source is None and sys.stdin.isatty() and not required:
        return None
    if source is None and not required and not sys.stdin.isatty():
        text = sys.stdin.read().strip()
        return text or None
    return _read_text(source, "reason")


def _status_command(name: str, trigger: str, doc: str) -> None:
    @queue.command(name, help=doc)
    @click.argument("reference")
    @officer_option
    @passphrase_file_option
    @reason_option
    @pass_context
    def command(
        ctx: Context,
        reference: str,
        officer_id: str | None,
        passphrase_file: Path | None,
        reason_file: Path | None,
    ) -> None:
        reason = _reason(reason_file, trigger in REASON_REQUIRED)
        desk, ref, acting = _officer_acting(
            ctx, reference, officer_id, passphrase_file, f"case.{trigger}"
        )
        click.echo(desk.change_status(ref, acting, trigger, reason))


_status_command("ack", "ack", "Acknowledge a new (or transferred) case.")
_status_command("close", "close", "Close a case; the reason (required) from stdin or --reason-file.")
_status_command("reopen", "reopen", "Reopen a closed case.")


@queue.command("assign")
@click.argument("reference")
@click.option("--to", "colleague", required=True, help="The officer (of your mission) to give it to.")
@officer_option
@passphrase_file_option
@pass_context
def queue_assign(
    ctx: Context,
    reference: str,
    colleague: str,
    officer_id: str | None,
    passphrase_file: Path | None,
) -> None:
    """Give a case to a colleague of your mission."""
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.assign")
    click.echo(desk.assign(ref, acting, OfficerId(colleague)))


@queue.command("unclaim")
@click.argument("reference")
@officer_option
@passphrase_file_option
@pass_context
def queue_unclaim(
    ctx: Context, reference: str, officer_id: str | None, passphrase_file: Path | None
) -> None:
    """Release a case back to your mission's queue."""
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.unclaim")
    click.echo(desk.unclaim(ref, acting))


@queue.command("status")
@click.argument("reference")
@click.argument("state", type=click.Choice(sorted(TRIGGER_FOR_STATUS)))
@officer_option
@passphrase_file_option
@reason_option
@pass_context
def queue_status(
    ctx: Context,
    reference: str,
    state: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    reason_file: Path | None,
) -> None:
    """Move a case to STATE, with a reason from stdin or --reason-file (required to close)."""
    trigger = TRIGGER_FOR_STATUS[state]
    reason = _reason(reason_file, trigger in REASON_REQUIRED)
    desk, ref, acting = _officer_acting(
        ctx, reference, officer_id, passphrase_file, f"case.{trigger}"
    )
    click.echo(desk.change_status(ref, acting, trigger, reason))


text_option = click.option(
    "--file", "source", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@queue.command("note")
@click.argument("reference")
@officer_option
@passphrase_file_option
@text_option
@pass_context
def queue_note(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    source: Path | None,
) -> None:
    """Add a note (from stdin or --file), sealed like the case."""
    text = _read_text(source, "note")
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.note")
    click.echo(desk.note(ref, acting, text))


@queue.command("reply")
@click.argument("reference")
@officer_option
@passphrase_file_option
@text_option
@pass_context
def queue_reply(
    ctx: Context,
    reference: str,
    officer_id: str | None,
    passphrase_file: Path | None,
    source: Path | None,
) -> None:
    """Reply to the defender (text from stdin or --file) through the bot they used."""
    text = _read_text(source, "reply")
    desk, ref, acting = _officer_acting(ctx, reference, officer_id, passphrase_file, "case.reply")
    click.echo(desk.reply(ref, acting, text))


@queue.command("transfer")
@click.argument("reference")
@click.option("--to", "to_mission", required=True, help="The mission to hand the case to.")
@click.option(
    "--force",
    is_flag=True,
    help="Transfer even though no active officer there can open it (it waits unseen).",
)
@officer_option
@passphrase_file_option
@reason_option
@pass_context
def queue_transfer(
    ctx: Context,
    reference: str,
    to_mission: str,
    force: bool,
    officer_id: str | None,
    passphrase_file: Path | None,
    reason_file: Path | None,
) -> None:
    """Hand a case to another mission (keys re-sealed to it); a reason from stdin or --reason-file."""
    reason = _reason(reason_file, False)
    desk, ref, acting = _officer_acting(
        ctx, reference, officer_id, passphrase_file, "case.transfer"
    )
    click.echo(desk.transfer(ref, acting, MissionId(to_mission), reason, force=force))
