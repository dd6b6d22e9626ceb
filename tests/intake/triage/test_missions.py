from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from intake.errors import DirectoryError
from intake.storage import migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.triage.missions import (
    DEMO_DIRECTORY,
    import_directory,
    list_missions,
    missions_serving,
    read_directory,
)


def test_demo_directory_is_valid() -> None:
    directory = read_directory(DEMO_DIRECTORY)
    ids = {m.id for m in directory.missions}
    assert {"eu-del-ua", "eeas-hq", "eu-hrd-fund"} <= ids


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("missions: [{id: x1, name: X, kind: delegation, countries: [ZZ]}]", "ISO 3166"),
        ("missions: [{id: x1, name: X, kind: consulate}]", "kind"),
        ("missions: [{id: x1, name: X, kind: fund}, {id: x1, name: Y, kind: fund}]", "mission 2: the id 'x1' is already mission 1"),
        ("missions: [{id: 'Bad Id', name: X, kind: fund}]", "id"),
        ("missions: [unclosed", "cannot read"),
        # 1-based, with the id and what the field means
        (
            "missions: [{id: a1, name: A, kind: fund}, {id: x1, name: X, kind: embassy, "
            "languages: [en, xx]}]",
            r"mission 2 \(x1\): languages: not ISO 639 language codes: xx \(the ISO 639 codes",
        ),
        ("missions: [{id: x1, kind: fund}]", r"mission 1 \(x1\): name: missing \(the name"),
        (
            "missions: [{id: d1, name: A, kind: delegation, countries: [KE]}, "
            "{id: d2, name: B, kind: delegation, countries: [UG, KE]}]",
            r"mission 2 \(d2\) and mission 1 \(d1\) are both delegations serving KE",
        ),
    ],
)
def test_bad_directory_is_refused_with_reason(tmp_path: Path, body: str, reason: str) -> None:
    path = tmp_path / "missions.yaml"
    path.write_text(body)
    with pytest.raises(DirectoryError, match=reason):
        read_directory(path)


def test_import_is_idempotent_and_serves_countries(database_url: str, now) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    directory = read_directory(DEMO_DIRECTORY)
    with sessions.begin() as session:
        added, updated = import_directory(session, directory, now)
    assert (added, updated) == (len(directory.missions), 0)
    with sessions.begin() as session:
        assert import_directory(session, directory, now) == (0, len(directory.missions))
    with Session(engine) as session:
        assert len(list_missions(session)) == len(directory.missions)
        # The delegation comes before the embassy serving the same country.
        assert missions_serving(session, "KE") == ["eu-del-ke", "de-emb-ke"]
        assert missions_serving(session, "BR") == []
    engine.dispose()


def test_a_second_delegation_for_a_country_in_the_directory_is_refused(
    database_url: str, now, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        import_directory(session, read_directory(DEMO_DIRECTORY), now)
    path = tmp_path / "more.yaml"
    path.write_text("missions: [{id: eu-del-ke2, name: B, kind: delegation, countries: [KE]}]")
    with sessions.begin() as session, pytest.raises(DirectoryError, match="both delegations"):
        import_directory(session, read_directory(path), now)
    with sessions() as session:
        assert "eu-del-ke2" not in {m.id for m in list_missions(session)}
    engine.dispose()
