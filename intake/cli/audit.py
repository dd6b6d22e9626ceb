"""`audit`: verify and list the hash-chained audit log."""

from __future__ import annotations

import click

from intake.cli.common import Context, emit_json, fail, id_table, pass_context
from intake.errors import AuditBroken
from intake.storage import audit


@click.group("audit")
def audit_group() -> None:
    """The audit log (no case content)."""


@audit_group.command("verify")
@pass_context
def audit_verify(ctx: Context) -> None:
    """Check the chain and its length against the checkpoint kept beside the keyring."""
    path = ctx.settings.audit_checkpoint
    with ctx.sessions() as session:
        try:
            checkpoint = audit.read_checkpoint(path)
            head = audit.verify(session, checkpoint)
        except AuditBroken as exc:
            fail(f"audit log BROKEN: {exc}")
    note = "" if checkpoint is not None else " (no checkpoint file yet)"
    click.echo(f"audit log intact: {head.count} entries, head {head.hash[:16]}{note}")


@audit_group.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10000))
@click.option("--subject", help="Only entries about this case, officer or mission.")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def audit_list(ctx: Context, limit: int, subject: str | None, as_json: bool) -> None:
    """The latest entries, newest first."""
    with ctx.sessions() as session:
        entries = audit.list_entries(session, limit, subject)
    if as_json:
        emit_json(
            [
                {
                    "seq": e.seq,
                    "at": e.at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "subject": e.subject,
                    "detail": e.detail,
                    "hash": e.hash,
                }
                for e in entries
            ]
        )
        return
    table = id_table("seq", "at", "actor", "action", "subject", "detail", ids=("actor", "subject"))
    for e in entries:
        detail = " ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
        table.add_row(
            str(e.seq), e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.subject, detail
        )
    ctx.console.print(table)
