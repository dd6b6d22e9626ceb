"""`officers`: enrolment, listing, revocation, passphrase change (security staff)."""

from __future__ import annotations

from pathlib import Path

import click

from crypto import CryptoError
from intake.cli.common import (
    Context,
    emit_json,
    fail,
    id_table,
    pass_context,
    passphrase_file_option,
    read_passphrase,
    read_secret_file,
    recovery_key_option,
    warn_if_exposed,
)
from intake.cli.lazy import LazyGroup
from intake.core.desks import build_staff_desk
from intake.keys.holders import KeysAtHand
from intake.keys.recovery import recovery_keys_at_hand
from intake.triage import officers
from intake.triage.staff import StaffDesk, check_new_passphrase


@click.group(
    "officers",
    cls=LazyGroup,
    # The web console's enrolment codes, defined beside the console's command.
    lazy_subcommands={"web-enrol": "intake.cli.web.web_enrol"},
)
def officers_group() -> None:
    """Liaison officers and their keys."""


def _desk(ctx: Context) -> StaffDesk:
    return build_staff_desk(ctx.settings, ctx.sessions, ctx.cipher)


def _unlocker(
    desk: StaffDesk,
    by: str | None,
    by_passphrase_file: Path | None,
    recovery_key: Path | None,
    action: str,
    subject: str,
) -> KeysAtHand | None:
    """The keys of whoever opens the mission key: the recovery key file, or a member's passphrase."""
    if recovery_key is not None:
        try:
            warn_if_exposed(recovery_key)
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
    return desk.unlock(by, passphrase, action, subject)


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
    desk = _desk(ctx)
    # Refuse what will be refused before anyone types a passphrase.
    desk.check_enrolment(mission_id, unlocker_named=by is not None or recovery_key is not None)
    passphrase = read_passphrase(passphrase_file, f"New passphrase for {name}", confirm=True)
    check_new_passphrase(passphrase)
    unlocker = _unlocker(desk, by, by_passphrase_file, recovery_key, "officer.enrol", mission_id)
    enrolment = desk.enrol(mission_id, name, passphrase, unlocker)
    created = enrolment.mission_key_created
    if as_json:
        emit_json(
            {
                "id": enrolment.officer_id,
                "mission": mission_id,
                "key_id": enrolment.key_id,
                "mission_key_created": created,
            }
        )
        return
    click.echo(f"officer {enrolment.officer_id} enrolled in {mission_id} (key {enrolment.key_id})")
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
    table = id_table("id", "name", "mission", "status", "key", "since", ids=("id", "mission", "key"))
    for o in rows:
        table.add_row(
            o.id, o.name, o.mission_id, o.status, o.key_id, o.created_at.date().isoformat()
        )
    ctx.console.print(table)


@officers_group.command("revoke")
@click.argument("officer_id")
@click.option(
    "--keep-mission-key",
    is_flag=True,
    help="A benign departure: keep the mission key (no rotation, no re-sealing; audited as such).",
)
@click.option(
    "--compromised",
    is_flag=True,
    hidden=True,
    help="Kept for scripts: rotating and re-sealing is now the default.",
)
@click.option("--by", help="A remaining member who opens the open cases for re-sealing.")
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
    keep_mission_key: bool,
    compromised: bool,
    by: str | None,
    by_passphrase_file: Path | None,
    recovery_key: Path | None,
    force: bool,
) -> None:
    """Revoke an officer: their copies of mission keys go, the mission key rotates, open cases re-seal."""
    if keep_mission_key and compromised:
        fail("--compromised and --keep-mission-key contradict each other")
    desk = _desk(ctx)
    # Refuse what will be refused (unknown, already revoked, no unlocker) before any prompt.
    desk.revocation_plan(
        officer_id,
        by,
        recovery=recovery_key is not None,
        keep_mission_key=keep_mission_key,
        force=force,
    )
    unlocker = None
    if not keep_mission_key:
        unlocker = _unlocker(
            desk, by, by_passphrase_file, recovery_key, "officer.revoke", officer_id
        )
    result = desk.revoke(
        officer_id,
        unlocker,
        keep_mission_key=keep_mission_key,
        force=force,
        reason="compromised" if compromised else ("benign departure" if keep_mission_key else None),
    )
    click.echo(
        f"officer {officer_id} revoked; {result.seals_deleted} sealed mission key copies deleted"
    )
    if result.mission_version is None:
        click.echo(
            f"{result.mission_id} key kept (--keep-mission-key): a copy of it the officer kept"
            " still opens the mission's cases"
        )
    else:
        click.echo(
            f"{result.mission_id} key version {result.mission_version} started (sealed to"
            f" {result.members} officers and the recovery key); {result.resealed} records of its"
            " open cases re-sealed to it"
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
    new: bytes | None = None
    if new_passphrase_file is not None:
        new = read_secret_file(new_passphrase_file)
        check_new_passphrase(new)
    passphrase = read_passphrase(passphrase_file, f"Current passphrase for {officer_id}")
    if new is None and change_passphrase:
        new = read_passphrase(None, "New passphrase", confirm=True, use_env=False)
    key_id, moved = _desk(ctx).rotate_key(officer_id, passphrase, new)
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
    new: bytes | None = None
    if new_passphrase_file is not None:
        new = read_secret_file(new_passphrase_file)
        check_new_passphrase(new)
    old = read_passphrase(passphrase_file, f"Current passphrase for {officer_id}")
    if new is None:
        new = read_passphrase(None, "New passphrase", confirm=True, use_env=False)
    _desk(ctx).change_passphrase(officer_id, old, new)
    click.echo(f"passphrase of {officer_id} changed")
