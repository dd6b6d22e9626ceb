"""`purge`: retention by crypto-shredding (closed cases, idle drafts, old message digests)."""

from __future__ import annotations

from datetime import timedelta

import click

from flows import load_catalog
from intake.cli.common import Context, emit_json, pass_context
from intake.core import app
from intake.core.desks import build_draft_epochs, build_key_desk, utcnow
from intake.keys.retention import checkpoint_sqlite, purge

_LABELS = {
    "cases": "closed cases destroyed",
    "case_events": "  their notes, replies and answers",
    "case_attachments": "  their files",
    "conversations": "idle conversations destroyed",
    "drafts": "idle drafts destroyed (conversation kept for its cases)",
    "draft_attachments": "  draft files",
    "processed_messages": "old processed-message digests",
    "inbox_messages": "  digests of kept messages (Signal), answered and sent",
    "unopenable_inbox_messages": "kept messages set aside whose KEK version is gone, deleted",
    "orphan_seals": "seals of records already gone",
    "unreadable_conversations": "idle conversations that do not decrypt (left; see keys verify)",
    "draft_epoch_keys": "draft-epoch keys past the window destroyed",
    "shredded_conversations": "  conversations they wrapped, deleted",
    "shredded_draft_attachments": "  draft files they wrapped, deleted",
}


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def purge_command(ctx: Context, dry_run: bool, as_json: bool) -> None:
    """Destroy cases closed past retention and expired drafts (keys and rows; audited)."""
    settings = ctx.settings
    engine = app.build_flow_engine(settings, load_catalog())
    now = utcnow()
    report = purge(
        ctx.sessions,
        ctx.cipher,
        settings.retention,
        timedelta(hours=settings.draft_idle_hours),
        engine.new_state,
        now,
        dry_run=dry_run,
        draft_epochs=build_draft_epochs(settings, ctx.cipher),
    )
    counts = report.as_dict()
    checkpointed = True
    if not dry_run:
        build_key_desk(settings, ctx.sessions).record_purge(
            now,
            closed_case_days=settings.retention.closed_case_days,
            draft_idle_hours=settings.draft_idle_hours,
            **counts,
        )
        checkpointed = checkpoint_sqlite(ctx.database[0])
    if as_json:
        emit_json({"dry_run": dry_run, **counts})
        return
    prefix = "would go: " if dry_run else ""
    for name, count in counts.items():
        click.echo(f"{prefix}{_LABELS[name]}: {count:,}")
    if not dry_run and not checkpointed:
        click.echo(
            "warning: a reader kept the SQLite write-ahead log busy; old page images may remain"
            " in it until the next checkpoint (run purge again when the service is idle)",
            err=True,
        )
