"""Top-level commands: init, serve, chat, db, flows."""

from __future__ import annotations

import os
import sys

import click

from intake.cli.common import EXIT_REFUSED, EXIT_SETUP, Context, fail, pass_context, refusals
from intake.cli.lazy import LazyGroup
from intake.errors import Refused, RoutingError, SetupError

# Each command's module is imported when that command runs (see intake.cli.lazy):
# `queue list` need not load the bots, the web server or the conversation stack.
SUBCOMMANDS = {
    "audit": "intake.cli.audit.audit_group",
    "keys": "intake.cli.keys.keys",
    "matrix": "intake.cli.matrix.matrix_group",
    "missions": "intake.cli.missions.missions",
    "officers": "intake.cli.officers.officers_group",
    "purge": "intake.cli.purge.purge_command",
    "queue": "intake.cli.queue_steps.queue",  # the group, with its triage steps
    "serve": "intake.cli.serve.serve",
    "web": "intake.cli.web.web",
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=SUBCOMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(package_name="hrd-intake")
def cli() -> None:
    """hrd-intake: secure intake for human rights defenders at risk."""


@cli.command()
@click.option("--demo", is_flag=True, help="Import the demo missions directory.")
@click.option("--if-absent", is_flag=True, help="Do nothing when the setup already exists.")
@pass_context
def init(ctx: Context, demo: bool, if_absent: bool) -> None:
    """Create $HRD_INTAKE_HOME: keyring, migrated database, demo missions."""
    # Imported here, not at the top: Alembic and the conversation stack would
    # otherwise load at every command's start (see intake.cli.lazy).
    from intake.cli.missions import warn_without_officers
    from intake.core import app
    from intake.storage import migrate

    settings = ctx.settings
    ctx.setting_up = True
    if if_absent and settings.keyring.path.exists():
        # Still bring the schema up to date: a pull may have added migrations.
        engine, _ = ctx.database
        migrate.upgrade(engine)
        click.echo(f"setup exists in {settings.home}; schema at {migrate.current_revision(engine)}")
        return
    report = app.initialise(settings, demo=demo)
    if report.recovery_key_file is not None:
        click.echo(
            f"WARNING: a recovery key was created; its private half is in {report.recovery_key_file}.\n"
            "  It opens every case. MOVE IT OFFLINE NOW (two copies, e.g. encrypted USB sticks in a\n"
            "  safe) and delete it here; `keys status` warns while it stays beside the database.",
            err=True,
        )
    if report.created_keyring:
        click.echo(f"keyring created: {settings.keyring.path} (mode 0600)")
    if report.generated_passphrase is not None:
        click.echo(
            f"WARNING: the keyring passphrase was generated into {report.generated_passphrase}.\n"
            "  Fine for a pilot on one machine. In production move it to a secret mount and set\n"
            "  HRD_INTAKE_KEYRING_PASSPHRASE_FILE: whoever has both files can read every draft.",
            err=True,
        )
    click.echo(f"database at revision {report.schema_revision}: {settings.database_url}")
    if demo:
        click.echo(f"demo missions added: {report.missions_added}")
    warn_without_officers(report.without_officers)


@cli.command()
@click.option("--as", "sender", default="console", show_default=True, help="Who is talking.")
@pass_context
def chat(ctx: Context, sender: str) -> None:
    """Talk to the bot in this terminal (reads stdin line by line; scriptable)."""
    from bots.console import ConsoleChannel
    from intake.core import app  # the conversation stack: only for the commands that talk

    service = app.build_service(ctx.settings, ctx.sessions, ctx.cipher)
    with refusals(RoutingError):
        ConsoleChannel(service, sys.stdin, sys.stdout, sender=sender).run()


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Apply pending migrations."""
    from intake.storage import migrate  # Alembic: only for the commands that migrate

    ctx.setting_up = True
    engine, _ = ctx.database
    migrate.upgrade(engine)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@cli.group()
def flows() -> None:
    """Conversation flows."""


@flows.command("diagram")
@click.argument("name")
def flows_diagram(name: str) -> None:
    """Print a Mermaid diagram of flow NAME, generated from its spec."""
    from flows import load_catalog, load_specs, to_mermaid

    specs = load_specs(catalog=load_catalog())
    if name not in specs:
        fail(f"no flow named {name!r}; known: {', '.join(sorted(specs))}")
    click.echo(to_mermaid(specs[name]))


@flows.command("missing")
def flows_missing() -> None:
    """List catalog keys each language lacks (they fall back to English)."""
    from flows import load_catalog

    missing = load_catalog().missing()
    for language, absent in sorted(missing.items()):
        click.echo(f"{language}: {len(absent)} missing")
        for key in absent:
            click.echo(f"  {key}")


def main() -> None:
    # Everything we create (database, WAL, logs, keyring, exported files) is
    # for this user only.
    os.umask(0o077)
    # The one place errors become exit codes (see the tree in intake.errors).
    try:
        cli()
    except Refused as exc:
        fail(str(exc), EXIT_REFUSED)
    except SetupError as exc:
        fail(str(exc), EXIT_SETUP)
