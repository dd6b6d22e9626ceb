"""The missions directory: EU Delegations, Member State embassies, fallback and fund queues.

Imported from a YAML file by `hrd-intake missions import`; validated whole
before anything is written, so a bad file changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

import pycountry
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session

from intake.config import describe_invalid
from intake.errors import DirectoryError
from intake.references import MissionId
from intake.storage.missions import mission_by_id, missions_by_id
from intake.storage.models import Mission

DEMO_DIRECTORY = Path(__file__).parents[1] / "demo" / "missions.yaml"


class MissionEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["delegation", "embassy", "headquarters", "fund"]
    countries: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()

    @field_validator("countries")
    @classmethod
    def _iso_countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.strip().upper() for code in value)
        unknown = [code for code in codes if pycountry.countries.get(alpha_2=code) is None]
        if unknown:
            raise ValueError(f"not ISO 3166-1 alpha-2 codes: {', '.join(unknown)}")
        return codes


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    missions: tuple[MissionEntry, ...]

    @field_validator("missions")
    @classmethod
    def _unique_ids(cls, value: tuple[MissionEntry, ...]) -> tuple[MissionEntry, ...]:
        seen: set[str] = set()
        for entry in value:
            if entry.id in seen:
                raise ValueError(f"mission id {entry.id!r} appears twice")
            seen.add(entry.id)
        return value


def read_directory(path: Path) -> Directory:
    """Parse and validate a missions file.

    Raises:
        DirectoryError: unreadable file, bad YAML, or an invalid entry.
    """
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DirectoryError(f"cannot read {path}: {exc}") from exc
    try:
        return Directory.model_validate(raw)
    except ValidationError as exc:
        raise DirectoryError(f"{path}: {describe_invalid(exc)}") from exc


def import_directory(session: Session, directory: Directory, now: datetime) -> tuple[int, int]:
    """Insert or update every mission of `directory`; returns (added, updated).

    Missions absent from the file are kept: they may hold cases.
    """
    existing = {m.id: m for m in missions_by_id(session)}
    added = updated = 0
    for entry in directory.missions:
        row = existing.get(entry.id)
        if row is None:
            row = Mission(id=entry.id)
            session.add(row)
            added += 1
        else:
            updated += 1
        row.name = entry.name
        row.kind = entry.kind
        row.countries = list(entry.countries)
        row.languages = list(entry.languages)
        row.updated_at = now
    return added, updated


def list_missions(session: Session) -> list[Mission]:
    return missions_by_id(session)


def missions_serving(session: Session, country: str) -> list[MissionId]:
    """Missions whose directory entry serves `country`: delegations first, then embassies."""
    order = {"delegation": 0, "embassy": 1}
    serving = [m for m in missions_by_id(session) if country in m.countries]
    serving.sort(key=lambda m: order.get(m.kind, 2))
    return [MissionId(m.id) for m in serving]


def mission_exists(session: Session, mission_id: str) -> bool:
    return mission_by_id(session, mission_id) is not None
