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

from intake.errors import DirectoryError
from intake.references import MissionId
from intake.storage.missions import mission_by_id, missions_by_id
from intake.storage.models import Mission

DEMO_DIRECTORY = Path(__file__).parents[1] / "demo" / "missions.yaml"


# Kosovo: not in ISO 3166-1 yet, served by missions all the same (flows knows it too).
_EXTRA_COUNTRIES = frozenset({"XK"})
NOT_LISTED = "ZZ"  # flows.NOT_LISTED: the defender's "my country is not listed"


def is_language(code: str) -> bool:
    """An ISO 639 code (`uk`, `sw`, `ka`, or three letters), optionally with a region (`pt-BR`)."""
    base = code.replace("_", "-").split("-", 1)[0].lower()
    if len(base) == 2:
        return pycountry.languages.get(alpha_2=base) is not None
    return len(base) == 3 and pycountry.languages.get(alpha_3=base) is not None


def is_country(code: str) -> bool:
    """An ISO 3166-1 alpha-2 code (or XK, Kosovo)."""
    return code in _EXTRA_COUNTRIES or pycountry.countries.get(alpha_2=code) is not None


def is_place(code: str) -> bool:
    """A country (`KE`), an ISO 3166-2 subdivision (`UA-43`) or `ZZ` (not listed)."""
    if code == NOT_LISTED:
        return True
    if "-" in code:
        found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
        return found is not None
    return is_country(code)


# What each field of a missions file means, for the errors that name it.
_FIELDS = {
    "id": "the mission's id, lower-case letters, digits, '.', '_' or '-' (e.g. eu-del-ke)",
    "name": "the name officers and staff see",
    "kind": "one of delegation, embassy, headquarters, fund",
    "countries": "the ISO 3166-1 two-letter codes of the countries it serves (e.g. [KE, UG])",
    "languages": "the ISO 639 codes of the languages its officers read (e.g. [en, sw])",
}


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
        unknown = [code for code in codes if not is_country(code)]
        if unknown:
            raise ValueError(f"not ISO 3166-1 alpha-2 codes: {', '.join(unknown)}")
        return codes

    @field_validator("languages")
    @classmethod
    def _iso_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        codes = tuple(code.strip() for code in value)
        unknown = [code for code in codes if not is_language(code)]
        if unknown:
            raise ValueError(f"not ISO 639 language codes: {', '.join(unknown)}")
        return codes


class Directory(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    missions: tuple[MissionEntry, ...]

    @field_validator("missions")
    @classmethod
    def _unique_ids(cls, value: tuple[MissionEntry, ...]) -> tuple[MissionEntry, ...]:
        seen: dict[str, int] = {}
        for position, entry in enumerate(value, start=1):
            if entry.id in seen:
                raise ValueError(
                    f"mission {position}: the id {entry.id!r} is already mission {seen[entry.id]}"
                )
            seen[entry.id] = position
        problem = _second_delegation([(f"mission {n}", m) for n, m in enumerate(value, start=1)])
        if problem:
            raise ValueError(problem)
        return value


def _second_delegation(entries: list[tuple[str, MissionEntry | Mission]]) -> str | None:
    """A sentence when two delegations serve one country (a country has one EU Delegation)."""
    serving: dict[str, tuple[str, str]] = {}
    for where, entry in entries:
        if entry.kind != "delegation":
            continue
        for country in entry.countries:
            if country in serving and serving[country][1] != entry.id:
                first_where, first_id = serving[country]
                return (
                    f"{where} ({entry.id}) and {first_where} ({first_id}) are both delegations "
                    f"serving {country}: a country has one EU Delegation (list the other as an "
                    "embassy, which is routed to after it, or remove the country from one)"
                )
            serving[country] = (where, entry.id)
    return None


def _describe(path: Path, raw: object, error: ValidationError) -> str:
    """Each problem with its 1-based mission number, its id, and what the field means."""
    problems = []
    missions = raw.get("missions") if isinstance(raw, dict) else None
    for problem in error.errors():
        loc = problem["loc"]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "missions" and isinstance(loc[1], int):
            number = loc[1] + 1
            entry = missions[loc[1]] if isinstance(missions, list) else None
            named = f" ({entry['id']})" if isinstance(entry, dict) and "id" in entry else ""
            field = str(loc[2]) if len(loc) > 2 else ""
            if problem["type"] == "missing":
                message = "missing"
            elif problem["type"] == "extra_forbidden":
                message = f"unknown field (the fields are {', '.join(_FIELDS)})"
            meaning = f" ({_FIELDS[field]})" if field in _FIELDS else ""
            message = f"{field}: {message}{meaning}" if field else message
            problems.append(f"mission {number}{named}: {message}")
        else:
            problems.append(message)
    return f"{path}: " + "; ".join(problems)


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
        raise DirectoryError(_describe(path, raw, exc)) from exc


def import_directory(session: Session, directory: Directory, now: datetime) -> tuple[int, int]:
    """Insert or update every mission of `directory`; returns (added, updated).

    Missions absent from the file are kept: they may hold cases.

    Raises:
        DirectoryError: the file would make a second delegation for a country already
            served by a delegation in the directory (nothing is written).
    """
    existing = {m.id: m for m in missions_by_id(session)}
    in_file = {entry.id for entry in directory.missions}
    kept: list[tuple[str, MissionEntry | Mission]] = [
        ("the directory's mission", m) for m in existing.values() if m.id not in in_file
    ]
    problem = _second_delegation(
        [*kept, *((f"mission {n}", e) for n, e in enumerate(directory.missions, start=1))]
    )
    if problem:
        raise DirectoryError(problem)
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
