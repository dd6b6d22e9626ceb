"""The authenticated key directory under seizure: database-only forgery of recovery, mission and
officer keys seals nothing to the forged key, raises alarms, and `keys verify` exits 1; on both
databases."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from crypto import generate_keypair, keyring_file_params, load_keyring, save_keyring
from intake.cli.main import cli
from intake.core import app, desks
from intake.errors import UntrustedKey
from intake.keys.directory import directory_problems
from intake.keys.mission_keys import rotate_mission_key
from intake.runtime.health import Health
from intake.runtime.metrics import ServiceMetrics, render
from intake.storage.models import Case, KeySeal, MissionKey, Officer, RecoveryKey
from tests.support.defender import Defender, play, threat_report
from tests.support.officers import enrol
from tests.support.setup import Setup

HELD = "will be sent shortly"


def cli_run(setup: Setup, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=setup.env, catch_exceptions=False)
    return result.exit_code, result.output


def attempt(setup: Setup, sender: str = "d1", metrics: ServiceMetrics | None = None) -> Defender:
    service = app.build_service(
        setup.settings, setup.sessions, setup.cipher, clock=setup.clock, metrics=metrics
    )
    defender = Defender(service, sender=sender)
    defender.send("/start")
    play(defender, threat_report("Kenya"))
    return defender


def case_count(setup: Setup) -> int:
    with setup.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def seals_to(setup: Setup, recipient_prefix: str) -> int:
    with setup.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(KeySeal)
                .where(KeySeal.recipient.startswith(recipient_prefix))
            )
            or 0
        )


def test_a_forged_recovery_key_seals_nothing_and_alarms(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    enrol(setup, "eu-del-ke", "Ana")
    # Given an attacker who can write the database only: another installation's recovery key.
    _, forged = generate_keypair()
    with setup.sessions.begin() as session:
        session.execute(update(RecoveryKey).values(active=False))
        session.add(
            RecoveryKey(
                key_id=forged.key_id,
                public_key=forged.to_bytes(),
                active=True,
                created_at=setup.clock(),
            )
        )
    metrics = ServiceMetrics()

    # When a defender submits...
    with caplog.at_level(logging.ERROR):
        defender = attempt(setup, metrics=metrics)

    # ...nothing is sealed to the forged key, the submission waits, the defender is told.
    assert HELD in defender.text
    assert case_count(setup) == 0 and seals_to(setup, f"recovery:{forged.key_id}") == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("submission held" in r.getMessage() for r in errors)
    assert all("d1" not in r.getMessage() for r in errors)  # no defender's identity
    exposed = render(metrics.families())
    assert 'hrd_intake_untrusted_key_refusals_total{key_kind="recovery"} 1.0' in exposed
    problems = directory_problems(setup.sessions, setup.cipher.fresh_keyring())
    assert len(problems) == 1 and forged.key_id in problems[0]
    health = Health(setup.sessions, lambda: problems)
    ready, details = health.report(True, health.untrusted_keys())
    assert not ready and details["untrusted_keys"] == problems
    code, output = cli_run(setup, "keys", "verify")
    assert code == 1 and forged.key_id in output and "UNTRUSTED" in output
    code, output = cli_run(setup, "keys", "status")
    assert code == 1 and forged.key_id in output

    # Once the forgery is undone, the defender's next message sends the held report.
    with setup.sessions.begin() as session:
        session.execute(
            update(RecoveryKey).where(RecoveryKey.key_id == forged.key_id).values(active=False)
        )
        session.execute(
            update(RecoveryKey).where(RecoveryKey.key_id != forged.key_id).values(active=True)
        )
    defender.send("/status")
    assert "Your reference is" in defender.text
    assert case_count(setup) == 1 and seals_to(setup, f"recovery:{forged.key_id}") == 0


def test_a_forged_mission_key_seals_nothing(setup: Setup) -> None:
    enrol(setup, "eu-del-ke", "Ana")
    _, forged = generate_keypair()
    with setup.sessions.begin() as session:
        real = session.scalars(select(MissionKey)).one()
        # A newer version with the attacker's key, its MAC copied from the real row.
        session.add(
            MissionKey(
                mission_id="eu-del-ke",
                version=2,
                public_key=forged.to_bytes(),
                key_id=forged.key_id,
                created_at=setup.clock(),
                key_mac=real.key_mac,
            )
        )
    defender = attempt(setup)
    assert HELD in defender.text and case_count(setup) == 0
    assert seals_to(setup, "mission:") == 0
    [problem] = directory_problems(setup.sessions, setup.cipher.fresh_keyring())
    assert "mission key eu-del-ke v2" in problem and "does not verify" in problem
    code, output = cli_run(setup, "keys", "verify")
    assert code == 1 and "eu-del-ke v2" in output


def test_a_forged_officer_key_gets_no_mission_key(setup: Setup) -> None:
    ana, ana_keys = enrol(setup, "eu-del-ke", "Ana")
    ben, _ = enrol(setup, "eu-del-ke", "Ben", unlock=ana_keys)
    _, forged = generate_keypair()
    with setup.sessions.begin() as session:
        session.execute(
            update(Officer).where(Officer.id == ana).values(public_key=forged.to_bytes())
        )
    with pytest.raises(UntrustedKey, match=ana), setup.sessions.begin() as session:
        rotate_mission_key(session, setup.directory, "eu-del-ke", setup.clock())
    with setup.sessions() as session:
        assert session.scalar(select(func.max(MissionKey.version))) == 1
    # An officer moved to another mission by a database edit does not verify either.
    with setup.sessions.begin() as session:
        session.execute(update(Officer).where(Officer.id == ben).values(mission_id="de-emb-ke"))
    problems = directory_problems(setup.sessions, setup.cipher.fresh_keyring())
    assert len(problems) == 2 and any(ben in problem for problem in problems)


def test_rows_from_before_the_directory_are_authenticated_by_staff(setup: Setup) -> None:
    """The upgrade: rows without a MAC and a keyring without a pin, until `keys authenticate`."""
    enrol(setup, "eu-del-ke", "Ana")
    path, passphrase = setup.settings.keyring.path, desks.keyring_passphrase(setup.settings)
    old = load_keyring(path, passphrase)
    save_keyring(
        path,
        type(old)(old.keks, old.kek_primary, old.pseudonym_keys, old.pseudonym_primary),
        passphrase,
        keyring_file_params(path),
    )
    with setup.sessions.begin() as session:
        session.execute(update(MissionKey).values(key_mac=None))
        session.execute(update(Officer).values(key_mac=None))
    assert len(directory_problems(setup.sessions, setup.cipher.fresh_keyring())) == 3
    assert HELD in attempt(setup).text

    code, output = cli_run(setup, "keys", "authenticate")
    assert code == 0 and "1 mission key rows, 1 officer rows" in output
    assert directory_problems(setup.sessions, setup.cipher.fresh_keyring()) == []
    assert cli_run(setup, "keys", "verify")[0] == 0
    assert "Your reference is" in attempt(setup, sender="d2").text
