"""`officers`: enrolment, listing, revocation, passphrase change (security staff)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from crypto import BadPassphrase, CryptoError
from intake.cli.common import (
    Context,
    emit_json,
    fail,
    pass_context,
    passphrase_file_option,
    read_passphrase,
    read_secret_file,
    recovery_key_option,
    sync_audit,
)
from intake.core.app import utcnow
from intake.errors import NoKeyAtHand, OfficerRefused
from intake.keys.holders import KeysAtHand
from intake.keys.mission_keys import reseal_open_cases, rotate_mission_key
from intake.keys.recovery import recovery_keys_at_hand
from intake.storage import audit
from intake.triage import officers


@click.group("officers")
def officers_group() -> None:
    """Liaison officers and their keys."""


def _unlocker(
    ctx: Context, by: str | None, by_passphrase_file: Path | None, recovery_key: Path | None
) -> KeysAtHand | None:
    if recovery_key is not None:
        try:
            return recovery_keys_at_hand(recovery_key)
        except CryptoError as exc:
            fail(f"cannot read the recovery key file: {exc}")
    if by is None:
        return None
    passphrase = (
        read_secret_file(by_passphrase_file)
        if by_passphrase_file
        else read_passphrase(None, f"Passphrase of {by}", use_env=False)
    )
    with ctx.sessions() as session:
        try:
            return officers.unlock(session, by, passphrase)
        except (BadPassphrase, OfficerRefused) as exc:
            fail(f"cannot unlock {by}: {exc}")


@officers_group.command("add")
@click.option("--mission", "mission_id", required=True, help="The officer's mission.")
@click.option(
    "--name", required=True, help="The officer's name (shown to colleagues, never to defenders)."
)
@passphrase_file_option
@click.option("--by", help="An existing member of the mission who opens its key for the newcomer.")
@click.option(
    "--by-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The existing member's passphrase file (else a prompt).",
)
@recovery_key_option
@click.option("--json", "as_json", is_flag=True)
@pass_context
def officers_add(
    ctx: Context,
    mission_id: str,
    name: str,
    passphrase_file: Path | None,
    by: str | None,
    by_passphrase_file: Path | None,
    recovery_key: Path | None,
    as_json: bool,
) -> None:
    """Enrol an officer: new key pair, wrapped under their passphrase; mission key sealed to them."""
    passphrase = read_passphrase(passphrase_file, f"New passphrase for {name}", confirm=True)
    if len(passphrase) < 12:
        fail("the passphrase is too short: use at least 12 characters (a few words is best)")
    unlocker = _unlocker(ctx, by, by_passphrase_file, recovery_key)
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            officer, created = officers.enrol(
                session,
                mission_id=mission_id,
                name=name,
                passphrase=passphrase,
                now=now,
                unlock=unlocker,
            )
        except (OfficerRefused, NoKeyAtHand) as exc:
            session.rollback()
            fail(str(exc))
        actor = unlocker.recipient if unlocker else "operator"
        audit.append(session, now, actor, "officer.enrol", officer.id, mission=mission_id)
        if created:
            audit.append(session, now, actor, "key.mission.create", mission_id, version=1)
    sync_audit(ctx)
    if as_json:
        emit_json(
            {
                "id": officer.id,
                "mission": mission_id,
                "key_id": officer.key_id,
                "mission_key_created": created,
            }
        )
        return
    click.echo(f"officer {officer.id} enrolled in {mission_id} (key {officer.key_id})")
    if created:
        click.echo(
            f"{mission_id} had no key: created version 1. Cases submitted before now are sealed to the\n"
            f"recovery key only; re-seal them with `hrd-intake keys mission reseal {mission_id} --recovery-key FILE`."
        )


@officers_group.command("list")
@click.option("--mission", "mission_id")
@click.option("--json", "as_json", is_flag=True)
@pass_context
def officers_list(ctx: Context, mission_id: str | None, as_json: bool) -> None:
    """List officers (no key material)."""
    with ctx.sessions() as session:
        rows = officers.list_officers(session, mission_id)
    if as_json:
        emit_json(
            [
                {
                    "id": o.id,
                    "name": o.name,
                    "mission": o.mission_id,
                    "status": o.status,
                    "key_id": o.key_id,
                    "created_at": o.created_at.isoformat(),
                }
                for o in rows
            ]
        )
        return
    table = Table("id", "name", "mission", "status", "key", "since")
    for o in rows:
        table.add_row(
            o.id, o.name, o.mission_id, o.status, o.key_id, o.created_at.date().isoformat()
        )
    ctx.console.print(table)


@officers_group.command("revoke")
@click.argument("officer_id")
@click.option(
    "--compromised",
    is_flag=True,
    help="Their key may be in other hands: start a new mission key version and re-seal open cases.",
)
@click.option("--by", help="--compromised: a remaining member who opens the open cases.")
@click.option(
    "--by-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The remaining member's passphrase file (else a prompt).",
)
@recovery_key_option
@click.option("--force", is_flag=True, help="Revoke even the last officer who can open the cases.")
@pass_context
def officers_revoke(
    ctx: Context,
    officer_id: str,
    compromised: bool,
    by: str | None,
    by_passphrase_file: Path | None,
    recovery_key: Path | None,
    force: bool,
) -> None:
    """Revoke an officer: their sealed copies of mission keys are deleted."""
    unlocker: KeysAtHand | None = None
    if compromised:
        if by == officer_id:
            fail("the officer being revoked cannot open the cases for re-sealing")
        unlocker = _unlocker(ctx, by, by_passphrase_file, recovery_key)
        if unlocker is None:
            fail("--compromised re-seals open cases: give --by OFFICER or --recovery-key FILE")
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            mission_id = officers.get_officer(session, officer_id).mission_id
            removed = officers.revoke(session, officer_id, now, force=force)
        except OfficerRefused as exc:
            fail(str(exc))
        actor = unlocker.recipient if unlocker else "operator"
        audit.append(session, now, actor, "officer.revoke", officer_id, seals_deleted=removed)
        if unlocker is not None:
            try:
                version, members = rotate_mission_key(session, mission_id, now)
                moved = reseal_open_cases(session, unlocker, mission_id, now)
            except (NoKeyAtHand, CryptoError) as exc:
                session.rollback()
                fail(f"nothing changed: {exc}")
            audit.append(
                session,
                now,
                actor,
                "key.mission.rotate",
                mission_id,
                version=version,
                members=members,
                reason=f"officer {officer_id} compromised",
            )
            audit.append(session, now, actor, "key.mission.reseal", mission_id, records=moved)
    sync_audit(ctx)
    click.echo(f"officer {officer_id} revoked; {removed} sealed mission key copies deleted")
    if unlocker is not None:
        click.echo(
            f"{mission_id} key version {version} started (sealed to {members} officers and the"
            f" recovery key); {moved} records of its open cases re-sealed to it"
        )


@officers_group.command("rotate-key")
@click.argument("officer_id")
@passphrase_file_option
@click.option(
    "--new-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also change the passphrase (else the same one protects the new key).",
)
@click.option("--change-passphrase", is_flag=True, help="Prompt for a new passphrase too.")
@pass_context
def officers_rotate_key(
    ctx: Context,
    officer_id: str,
    passphrase_file: Path | None,
    new_passphrase_file: Path | None,
    change_passphrase: bool,
) -> None:
    """Replace an officer's key pair; their mission key copies are re-sealed to the new one."""
    passphrase = read_passphrase(passphrase_file, f"Current passphrase for {officer_id}")
    new: bytes | None = None
    if new_passphrase_file is not None:
        new = read_secret_file(new_passphrase_file)
    elif change_passphrase:
        new = read_passphrase(None, "New passphrase", confirm=True, use_env=False)
    if new is not None and len(new) < 12:
        fail("the passphrase is too short: use at least 12 characters")
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            moved = officers.rotate_key(session, officer_id, passphrase, now, new_passphrase=new)
        except (BadPassphrase, OfficerRefused, NoKeyAtHand, CryptoError) as exc:
            session.rollback()
            fail(f"cannot rotate the key of {officer_id}: {exc}")
        key_id = officers.get_officer(session, officer_id).key_id
        audit.append(
            session,
            now,
            f"officer:{officer_id}",
            "officer.rotate_key",
            officer_id,
            key_id=key_id,
            seals=moved,
            passphrase_changed=new is not None,
        )
    sync_audit(ctx)
    click.echo(f"officer {officer_id} has a new key {key_id}; {moved} mission key copies re-sealed")


@officers_group.command("passwd")
@click.argument("officer_id")
@passphrase_file_option
@click.option(
    "--new-passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new passphrase (else a prompt).",
)
@pass_context
def officers_passwd(
    ctx: Context, officer_id: str, passphrase_file: Path | None, new_passphrase_file: Path | None
) -> None:
    """Change an officer's passphrase (rewraps their private key; nothing else changes)."""
    old = read_passphrase(passphrase_file, f"Current passphrase for {officer_id}")
    new = (
        read_secret_file(new_passphrase_file)
        if new_passphrase_file
        else read_passphrase(None, "New passphrase", confirm=True, use_env=False)
    )
    if len(new) < 12:
        fail("the passphrase is too short: use at least 12 characters")
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            officers.change_passphrase(session, officer_id, old, new)
        except (BadPassphrase, OfficerRefused) as exc:
            session.rollback()
            fail(f"cannot change the passphrase: {exc}")
        audit.append(session, now, f"officer:{officer_id}", "officer.passwd", officer_id)
    sync_audit(ctx)
    click.echo(f"passphrase of {officer_id} changed")
