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

from crypto import CryptoError, KeyKind, KeyNotFound
from intake.cli.common import (
    Context,
    audit_refusal,
    emit_json,
    fail,
    pass_context,
    recovery_key_option,
    sync_audit,
)
from intake.cli.progress import progress_bar
from intake.core import app
from intake.core.app import utcnow
from intake.errors import NoKeyAtHand, RecoveryKeyExists, RecoveryRotationRefused, RetireRefused
from intake.keys.holders import active_recovery_key, reseal_to_mission
from intake.keys.keyring_admin import retire_version, rotate_keyring
from intake.keys.mission_keys import rotate_mission_key
from intake.keys.recovery import (
    create_recovery_key,
    recovery_keys_at_hand,
    reseal_recovery_batch,
    seals_to,
    start_recovery_rotation,
)
from intake.storage import audit
from intake.triage.missions import mission_exists

KINDS = click.Choice(["kek", "pseudonym"])


@click.group()
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
    settings = ctx.settings
    now = utcnow()
    try:
        version = rotate_keyring(
            settings.keyring.path, app.keyring_passphrase(settings), cast(KeyKind, kind), now
        )
    except CryptoError as exc:
        fail(f"cannot rotate: {exc}")
    with ctx.sessions.begin() as session:
        audit.append(session, now, "operator", f"key.{kind}.rotate", kind, version=version)
    sync_audit(ctx)
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
    now = utcnow()
    grace = timedelta(minutes=settings.keys.retire_grace_minutes)
    subject = f"{kind}:{version}"
    with ctx.sessions() as session:
        try:
            retired = retire_version(
                settings.keyring.path,
                app.keyring_passphrase(settings),
                session,
                cast(KeyKind, kind),
                version,
                now,
                grace,
            )
        except KeyNotFound as exc:
            fail(str(exc))
        except RetireRefused as exc:
            session.rollback()
            audit_refusal(ctx, "operator", f"key.{kind}.retire", subject, str(exc))
    if not retired:
        click.echo(f"{kind} version {version} was already retired")
        return
    with ctx.sessions.begin() as session:
        audit.append(session, now, "operator", f"key.{kind}.retire", subject, version=version)
    sync_audit(ctx)
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
    try:
        old = recovery_keys_at_hand(old_file)
    except CryptoError as exc:
        fail(f"cannot read the recovery key file: {exc}")
    now = utcnow()
    with ctx.sessions.begin() as session:
        active = active_recovery_key(session)
        if active is not None and f"recovery:{active[0]}" == old.recipient:
            if out is None:
                fail("starting a rotation needs --out NEWFILE for the new private half")
            try:
                new_id = start_recovery_rotation(session, old, out, now)
            except FileExistsError:
                fail(
                    f"{out} exists: refusing to overwrite a key file (left by an attempt"
                    " interrupted before the new key was registered? `keys status` shows the"
                    " active key; if it is not that file's, destroy the file and retry)"
                )
            except RecoveryRotationRefused as exc:
                fail(str(exc))
            audit.append(
                session, now, old.recipient, "key.recovery.rotate", new_id, replaces=old.recipient
            )
            click.echo(
                f"new recovery key {new_id} is active; its private half is in {out}:\n"
                "  MOVE IT OFFLINE NOW (two copies). New cases are sealed to it from now on."
            )
        elif seals_to(session, old.recipient):
            click.echo(f"resuming: moving the seals of {old.recipient} to the active key")
        else:
            fail(
                f"{old.recipient} is neither the active recovery key nor holds any seal"
                " (already rotated and retired?)"
            )
        pending = seals_to(session, old.recipient)
    sync_audit(ctx)
    moved = 0
    with progress_bar(ctx.errors, "re-sealing", pending) as advance:
        while True:
            with ctx.sessions.begin() as session:
                try:
                    count = reseal_recovery_batch(session, old, utcnow())
                except (RecoveryRotationRefused, CryptoError) as exc:
                    session.rollback()
                    fail(f"re-sealing stopped after {moved} seals: {exc}")
            if not count:
                break
            moved += count
            advance(count)
    with ctx.sessions.begin() as session:
        audit.append(
            session,
            utcnow(),
            old.recipient,
            "key.recovery.retire",
            old.recipient,
            seals_moved=moved,
        )
    sync_audit(ctx)
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
    now = utcnow()
    with ctx.sessions.begin() as session:
        if not mission_exists(session, mission_id):
            fail(f"no mission {mission_id!r} in the directory")
        try:
            version, members = rotate_mission_key(session, mission_id, now)
        except NoKeyAtHand as exc:
            session.rollback()
            fail(str(exc))
        audit.append(
            session,
            now,
            "operator",
            "key.mission.rotate",
            mission_id,
            version=version,
            members=members,
        )
    sync_audit(ctx)
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
