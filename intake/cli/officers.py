"""`officers`: enrolment, listing, revocation, passphrase change (security staff)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from crypto import BadPassphrase, CryptoError
from intake import audit, officers
from intake.app import utcnow
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
from intake.keyholders import KeysAtHand, NoKeyAtHand
from intake.recovery import recovery_keys_at_hand


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
        except (BadPassphrase, officers.OfficerRefused) as exc:
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
        except (officers.OfficerRefused, NoKeyAtHand) as exc:
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
@pass_context
def officers_revoke(ctx: Context, officer_id: str) -> None:
    """Revoke an officer: their sealed copies of mission keys are deleted."""
    now = utcnow()
    with ctx.sessions.begin() as session:
        try:
            removed = officers.revoke(session, officer_id, now)
        except officers.OfficerRefused as exc:
            fail(str(exc))
        audit.append(session, now, "operator", "officer.revoke", officer_id, seals_deleted=removed)
    sync_audit(ctx)
    click.echo(f"officer {officer_id} revoked; {removed} sealed mission key copies deleted")


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
        except (BadPassphrase, officers.OfficerRefused) as exc:
            session.rollback()
            fail(f"cannot change the passphrase: {exc}")
        audit.append(session, now, f"officer:{officer_id}", "officer.passwd", officer_id)
    sync_audit(ctx)
    click.echo(f"passphrase of {officer_id} changed")
