"""`keys`: security staff's key operations.

Keyring versions (`rotate`, `retire`; `rewrap`, `status` and `verify` live in
sibling modules), the recovery key (`recovery init`, `recovery rotate`) and
mission keys (`mission rotate`, `mission reseal`). Every operation is audited.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import cast

import click

from crypto import CryptoError, KeyKind
from intake.cli.common import (
    Context,
    emit_json,
    fail,
    pass_context,
    recovery_key_option,
    warn_if_exposed,
)
from intake.cli.lazy import LazyGroup
from intake.cli.progress import progress_bar
from intake.core.desks import build_key_desk
from intake.keys.admin import KeyDesk
from intake.keys.holders import KeysAtHand
from intake.keys.recovery import recovery_keys_at_hand

KINDS = click.Choice(["kek", "pseudonym"])


@click.group(
    cls=LazyGroup,
    # The reports live in a sibling module (imported when one of them runs).
    lazy_subcommands={
        "authenticate": "intake.cli.keys_report.keys_authenticate",
        "rewrap": "intake.cli.keys_report.keys_rewrap",
        "status": "intake.cli.keys_report.keys_status",
        "verify": "intake.cli.keys_report.keys_verify",
    },
)
def keys() -> None:
    """Keys: keyring versions, recovery key, mission keys."""


@keys.command("rotate")
@click.option(
    "--kind",
    type=click.Choice(["kek", "pseudonym", "recovery"]),
    default="kek",
    show_default=True,
    help="Which key gets a new primary version.",
)
@click.option(
    "--old",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="recovery: the current recovery key file.",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="recovery: the new key file."
)
@pass_context
def keys_rotate(ctx: Context, kind: str, old: Path | None, out: Path | None) -> None:
    """Add a new primary version; the running service picks it up without a restart."""
    if kind == "recovery":
        if old is None:
            fail("rotating the recovery key needs --old FILE (and --out NEWFILE)")
        _rotate_recovery(ctx, old, out)
        return
    version = _desk(ctx).rotate_keyring(cast(KeyKind, kind))
    follow = (
        "run `hrd-intake keys rewrap` to move existing records to it"
        if kind == "kek"
        else "senders move to it on their next message"
    )
    click.echo(f"{kind} version {version} is now the primary; {follow}")


@keys.command("retire")
@click.argument("version", type=click.IntRange(1))
@click.option("--kind", type=KINDS, default="kek", show_default=True)
@pass_context
def keys_retire(ctx: Context, version: int, kind: str) -> None:
    """Destroy a keyring version's material; refused while any record needs it."""
    settings = ctx.settings
    grace = timedelta(minutes=settings.keys.retire_grace_minutes)
    if not _desk(ctx).retire(cast(KeyKind, kind), version, grace):
        click.echo(f"{kind} version {version} was already retired")
        return
    click.echo(
        f"{kind} version {version} retired: its material is gone from {settings.keyring.path}."
        "\n  Copies of older keyring files (backups) still hold it: destroy those too."
    )


# -- recovery key -----------------------------------------------------------


@keys.group()
def recovery() -> None:
    """The offline recovery key (opens every case and mission key)."""


@recovery.command("init")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private half.",
)
@pass_context
def recovery_init(ctx: Context, out: Path) -> None:
    """Create the recovery key pair: the private half goes to --out only."""
    key_id = _desk(ctx).create_recovery(out)
    click.echo(
        f"recovery key {key_id} created. Its private half is in {out}:\n"
        "  MOVE IT OFFLINE NOW (an encrypted USB stick in a safe, two copies). Whoever holds it\n"
        "  can open every case. The server keeps only the public half."
    )


@recovery.command("rotate")
@click.option(
    "--old",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The current recovery key file.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the new private half (not needed to resume).",
)
@pass_context
def recovery_rotate(ctx: Context, old: Path, out: Path | None) -> None:
    """Replace the recovery key: every seal moves to the new one, then the old one is retired."""
    _rotate_recovery(ctx, old, out)


def _rotate_recovery(ctx: Context, old_file: Path, out: Path | None) -> None:
    old = _recovery_keys(old_file)
    desk = _desk(ctx)
    rotation = desk.begin_recovery_rotation(old, out)
    if rotation.new_key_id is not None:
        click.echo(
            f"new recovery key {rotation.new_key_id} is active; its private half is in {out}:\n"
            "  MOVE IT OFFLINE NOW (two copies). New cases are sealed to it from now on."
        )
    else:
        click.echo(f"resuming: moving the seals of {old.recipient} to the active key")
    with progress_bar(ctx.errors, "re-sealing", rotation.pending) as advance:
        moved = desk.finish_recovery_rotation(old, advance)
    click.echo(
        f"{moved} seals moved; the old recovery key {old.recipient} is retired. Destroy every"
        " copy of its file once the new one is safely offline."
    )


# -- mission keys -------------------------------------------------------------


@keys.group()
def mission() -> None:
    """Mission keys."""


@mission.command("rotate")
@click.argument("mission_id")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def mission_rotate(ctx: Context, mission_id: str, as_json: bool) -> None:
    """Start a new version of a mission's key for new cases (older ones stay readable)."""
    version, members = _desk(ctx).rotate_mission(mission_id)
    if as_json:
        emit_json({"mission": mission_id, "version": version, "members": members})
        return
    click.echo(
        f"{mission_id} key version {version} created, sealed to {members} officers and the"
        " recovery key; new cases are sealed to it"
    )


@mission.command("reseal")
@click.argument("mission_id")
@recovery_key_option
@pass_context
def mission_reseal(ctx: Context, mission_id: str, recovery_key: Path | None) -> None:
    """Seal a mission's earlier cases (sealed to the recovery key only) to its current key."""
    if recovery_key is None:
        fail("re-sealing needs the recovery key: --recovery-key FILE")
    count = _desk(ctx).reseal_mission(mission_id, _recovery_keys(recovery_key))
    click.echo(f"{count} records of {mission_id} sealed to its current key")


def _desk(ctx: Context) -> KeyDesk:
    return build_key_desk(ctx.settings, ctx.sessions)


def _recovery_keys(path: Path) -> KeysAtHand:
    try:
        warn_if_exposed(path)
        return recovery_keys_at_hand(path)
    except CryptoError as exc:
        fail(f"cannot read the recovery key file: {exc}")
