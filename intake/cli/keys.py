"""`keys`: security staff's key operations (recovery key, mission keys)."""

from __future__ import annotations

from pathlib import Path

import click

from crypto import CryptoError
from intake import audit
from intake.app import utcnow
from intake.cli.common import Context, fail, pass_context, recovery_key_option, sync_audit
from intake.keyholders import NoKeyAtHand, reseal_to_mission
from intake.recovery import RecoveryKeyExists, create_recovery_key, recovery_keys_at_hand


@click.group()
def keys() -> None:
    """Keys: recovery key, mission keys."""


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
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            key_id = create_recovery_key(session, out, now)
        except RecoveryKeyExists as exc:
            fail(f"{exc}; rotating it is `keys recovery rotate`")
        except FileExistsError:
            fail(f"{out} exists: refusing to overwrite a key file")
        audit.append(session, now, "operator", "key.recovery.create", key_id)
    sync_audit(ctx)
    click.echo(
        f"recovery key {key_id} created. Its private half is in {out}:\n"
        "  MOVE IT OFFLINE NOW (an encrypted USB stick in a safe, two copies). Whoever holds it\n"
        "  can open every case. The server keeps only the public half."
    )


@keys.group()
def mission() -> None:
    """Mission keys."""


@mission.command("reseal")
@click.argument("mission_id")
@recovery_key_option
@pass_context
def mission_reseal(ctx: Context, mission_id: str, recovery_key: Path | None) -> None:
    """Seal a mission's earlier cases (sealed to the recovery key only) to its current key."""
    if recovery_key is None:
        fail("re-sealing needs the recovery key: --recovery-key FILE")
    try:
        keys_at_hand = recovery_keys_at_hand(recovery_key)
    except CryptoError as exc:
        fail(f"cannot read the recovery key file: {exc}")
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            count = reseal_to_mission(session, keys_at_hand, mission_id, now)
        except (NoKeyAtHand, CryptoError) as exc:
            session.rollback()
            fail(str(exc))
        audit.append(
            session, now, keys_at_hand.recipient, "key.mission.reseal", mission_id, records=count
        )
    sync_audit(ctx)
    click.echo(f"{count} records of {mission_id} sealed to its current key")
