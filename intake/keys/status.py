"""`keys status`: every key, its age, what it protects, and what is due.

Reads metadata only: key versions and dates from the keyring, counts from the
database, public halves of officer, mission and recovery keys. Nothing here
opens a record. A key is due once older than its crypto-period (`[keys]`
settings); a KEK is also due once its encryptions near AES-GCM's random-nonce
limit (see `intake.storage.key_usage`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from crypto import PRODUCTION_MEMORY_FLOOR_KIB, CryptoError, KeyKind, Keyring, wrapped_key_params
from intake.config import KeySettings
from intake.keys.readers import UnreadableMission, unreadable_missions
from intake.keys.recovery import RECOVERY_FILE_NAME
from intake.storage import key_usage
from intake.storage.counts import count_pseudonym_records_by_version
from intake.storage.mission_keys import (
    mission_keys_by_mission_and_version,
    recovery_keys_oldest_first,
)
from intake.storage.officers import active_officers
from intake.storage.seals import (
    count_officer_seals_by_mission_key,
    count_recovery_seals_by_recipient,
)
from intake.storage.wrapped_keys import records_per_version

AES_GCM_LIMIT = 2**32


@dataclass(frozen=True)
class KeyringVersion:
    """One version of a keyring key (KEK or pseudonym key).

    Attributes:
        records: table -> records needing this version now.
        encryptions: KEKs only: wraps made under it (at least).
    """

    kind: str
    version: int
    created_at: datetime
    age_days: int
    primary: bool
    retired: bool
    records: dict[str, int]
    encryptions: int | None
    due: bool


@dataclass(frozen=True)
class OfficerKey:
    officer: str
    name: str
    mission: str
    key_id: str
    created_at: datetime
    age_days: int
    due: bool


@dataclass(frozen=True)
class MissionKeyVersion:
    """One version of a mission key; `members` counts officers holding a sealed copy."""

    mission: str
    version: int
    key_id: str
    created_at: datetime
    age_days: int
    current: bool
    members: int
    due: bool


@dataclass(frozen=True)
class RecoveryKeyStatus:
    """`state`: "active", "rotating" (inactive, seals still to move) or "retired"."""

    key_id: str
    state: str
    created_at: datetime
    age_days: int
    seals: int
    due: bool


@dataclass
class KeyStatus:
    keyring: list[KeyringVersion] = field(default_factory=list)
    officers: list[OfficerKey] = field(default_factory=list)
    missions: list[MissionKeyVersion] = field(default_factory=list)
    recovery: list[RecoveryKeyStatus] = field(default_factory=list)
    # Missions holding cases no active officer can open (`keys status` exits 1).
    unreadable: list[UnreadableMission] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def plain(item: Any) -> dict[str, Any]:
            return {
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in asdict(item).items()
            }

        return {
            "keyring": [plain(v) for v in self.keyring],
            "officers": [plain(o) for o in self.officers],
            "missions": [plain(m) for m in self.missions],
            "recovery": [plain(r) for r in self.recovery],
            "unreadable": [
                {"mission": u.mission, "cases": u.cases, "fix": u.fix} for u in self.unreadable
            ],
            "warnings": list(self.warnings),
        }


def key_status(
    session: Session, keyring: Keyring, settings: KeySettings, home: Path, now: datetime
) -> KeyStatus:
    """Gather the status of every key, with warnings for what needs doing."""
    status = KeyStatus()
    _keyring_versions(session, keyring, settings, now, status)
    _officer_keys(session, settings, now, status)
    _mission_keys(session, settings, now, status)
    _recovery_keys(session, settings, now, status)
    status.unreadable = unreadable_missions(session)
    status.warnings.extend(mission.sentence() for mission in status.unreadable)
    beside = home / RECOVERY_FILE_NAME
    if beside.exists():
        status.warnings.append(
            f"the recovery key's private half is still beside the database ({beside}):"
            " move it offline (two copies) and delete it here"
        )
    return status


def _keyring_versions(
    session: Session, keyring: Keyring, settings: KeySettings, now: datetime, status: KeyStatus
) -> None:
    per_version = records_per_version(session)
    counted = key_usage.encryptions(session)
    pseudonyms = count_pseudonym_records_by_version(session)
    kinds: tuple[tuple[KeyKind, int], ...] = (
        ("kek", settings.kek_period_days),
        ("pseudonym", settings.pseudonym_period_days),
    )
    for kind, period in kinds:
        primary = keyring.primary(kind)
        for entry in keyring.versions(kind):
            age = (now - entry.created_at).days
            if kind == "kek":
                records = per_version.get(entry.version, {})
                # The counter misses nothing written since migration 0004; rows are a floor.
                spent = max(counted.get(entry.version, 0), sum(records.values()))
            else:
                records = pseudonyms.get(entry.version, {})
                spent = None
            is_primary = entry.version == primary
            worn = spent is not None and spent >= settings.encryption_warn
            due = is_primary and (age >= period or worn)
            status.keyring.append(
                KeyringVersion(
                    kind,
                    entry.version,
                    entry.created_at,
                    age,
                    is_primary,
                    entry.retired,
                    records,
                    spent,
                    due,
                )
            )
            _keyring_warnings(
                status,
                kind,
                entry.version,
                age,
                period,
                is_primary,
                entry.retired,
                records,
                spent,
                settings.encryption_warn,
            )


def _keyring_warnings(
    status: KeyStatus,
    kind: str,
    version: int,
    age: int,
    period: int,
    primary: bool,
    retired: bool,
    records: dict[str, int],
    spent: int | None,
    warn_at: int,
) -> None:
    name = f"{kind} version {version}"
    if retired:
        if records:
            status.warnings.append(f"{name} is retired but {sum(records.values())} records name it")
        return
    if spent is not None and spent >= warn_at:
        status.warnings.append(
            f"{name} has made {spent:,} encryptions (warning at {warn_at:,}; AES-GCM's"
            f" random-nonce limit is {AES_GCM_LIMIT:,}): rotate it now (keys rotate --kind kek)"
            if primary
            else f"{name} has made {spent:,} encryptions: rewrap and retire it"
        )
    if primary and age >= period:
        status.warnings.append(
            f"{name} is {age} days old (crypto-period {period} days):"
            f" rotate it (keys rotate --kind {kind})"
        )
    if not primary:
        total = sum(records.values())
        if total and kind == "kek":
            status.warnings.append(
                f"{total:,} records are still on {name}: run keys rewrap, then keys retire {version}"
            )
        elif total:
            status.warnings.append(
                f"{total:,} conversations still use {name}: they move to the primary on next"
                " contact, or go when purged"
            )
        else:
            status.warnings.append(
                f"no record needs {name} any more: retire it (keys retire {version} --kind {kind})"
            )


def _officer_keys(
    session: Session, settings: KeySettings, now: datetime, status: KeyStatus
) -> None:
    for officer in active_officers(session):
        age = (now - officer.key_created_at).days
        due = age >= settings.officer_period_days
        status.officers.append(
            OfficerKey(
                officer.id,
                officer.name,
                officer.mission_id,
                officer.key_id,
                officer.key_created_at,
                age,
                due,
            )
        )
        if due:
            status.warnings.append(
                f"officer {officer.id}'s key is {age} days old (crypto-period"
                f" {settings.officer_period_days} days): officers rotate-key {officer.id}"
            )
        try:
            params = wrapped_key_params(officer.wrapped_private_key)
        except CryptoError:
            status.warnings.append(
                f"officer {officer.id}'s wrapped key has refused Argon2id parameters"
                " (edited?): keys verify"
            )
            continue
        if not params.meets_production_floor:
            status.warnings.append(
                f"officer {officer.id}'s passphrase protects their key with"
                f" {params.memory_kib} KiB of Argon2id memory, below the production floor of"
                f" {PRODUCTION_MEMORY_FLOOR_KIB} KiB: officers passwd {officer.id}"
            )


def _mission_keys(
    session: Session, settings: KeySettings, now: datetime, status: KeyStatus
) -> None:
    members: dict[str, int] = defaultdict(int, count_officer_seals_by_mission_key(session))
    rows = mission_keys_by_mission_and_version(session)
    latest = {row.mission_id: row.version for row in rows}
    for row in rows:
        age = (now - row.created_at).days
        current = latest[row.mission_id] == row.version
        due = current and age >= settings.mission_period_days
        status.missions.append(
            MissionKeyVersion(
                row.mission_id,
                row.version,
                row.key_id,
                row.created_at,
                age,
                current,
                members[f"{row.mission_id}/{row.version}"],
                due,
            )
        )
        if due:
            status.warnings.append(
                f"{row.mission_id}'s key version {row.version} is {age} days old (crypto-period"
                f" {settings.mission_period_days} days): keys mission rotate {row.mission_id}"
            )


def _recovery_keys(
    session: Session, settings: KeySettings, now: datetime, status: KeyStatus
) -> None:
    seals = count_recovery_seals_by_recipient(session)
    rows = recovery_keys_oldest_first(session)
    for row in rows:
        held = seals.get(f"recovery:{row.key_id}", 0)
        state = "active" if row.active else ("rotating" if held else "retired")
        age = (now - row.created_at).days
        due = row.active and age >= settings.recovery_period_days
        status.recovery.append(RecoveryKeyStatus(row.key_id, state, row.created_at, age, held, due))
        if due:
            status.warnings.append(
                f"the recovery key {row.key_id} is {age} days old (crypto-period"
                f" {settings.recovery_period_days} days): keys recovery rotate"
            )
        if state == "rotating":
            status.warnings.append(
                f"{held:,} seals are still on the old recovery key {row.key_id}: rerun"
                " keys recovery rotate --old FILE to finish"
            )
    if not any(row.active for row in rows):
        status.warnings.append(
            "no active recovery key: cases cannot be sealed (keys recovery init --out FILE)"
        )
