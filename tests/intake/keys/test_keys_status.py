"""`keys status`: ages, crypto-periods, records per version, encryption counts and warnings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from intake.config import load_settings
from intake.core import desks
from intake.errors import ConfigError
from intake.keys.mission_keys import rotate_mission_key
from intake.keys.recovery import RECOVERY_FILE_NAME
from intake.keys.status import KeyStatus, key_status
from intake.keys.verify import VerifyReport, verify_keyring_records
from intake.storage import key_usage, migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.models import InboxMessage
from tests.support.bulk import insert_records
from tests.support.defender import threat_report
from tests.support.keys import rotate, submit
from tests.support.officers import enrol
from tests.support.setup import Setup


def status_of(setup: Setup, **key_settings: int) -> KeyStatus:
    settings = setup.settings.keys.model_copy(update=key_settings)
    keyring = desks.build_cipher(setup.settings, setup.sessions).keyring()
    with setup.sessions() as session:
        return key_status(session, keyring, settings, setup.settings.home, setup.clock())


def test_status_counts_records_and_encryptions_per_version(setup: Setup) -> None:
    enrol(setup, "eu-del-ke", "Ana")
    # The conversation's key is under a draft epoch; the case key is sealed, never wrapped.
    submit(setup, threat_report("Kenya"))
    insert_records(setup.sessions, setup.cipher, 20, setup.clock())
    status = status_of(setup)
    [kek] = [v for v in status.keyring if v.kind == "kek"]
    assert kek.records == {
        "conversations": 14,
        "deliveries": 4,
        "attachments": 2,
        "channel_state": 3,
    }
    assert kek.encryptions == 20 + 3 and kek.primary and not kek.due
    [pseudonym] = [v for v in status.keyring if v.kind == "pseudonym"]
    assert pseudonym.records == {"conversations": 15} and pseudonym.encryptions is None
    [officer] = status.officers
    [mission] = status.missions
    assert (mission.mission, mission.version, mission.current, mission.members) == (
        "eu-del-ke",
        1,
        True,
        1,
    )
    assert officer.mission == "eu-del-ke" and not officer.due
    [recovery] = status.recovery
    assert (recovery.state, recovery.seals) == ("active", 2)  # the case and the mission key
    assert any("beside the database" in w for w in status.warnings)
    (setup.settings.home / RECOVERY_FILE_NAME).unlink()  # moved offline
    assert not any("beside the database" in w for w in status_of(setup).warnings)
    # A Signal message kept in the inbox is found by its pseudonym version too (what
    # `keys retire` waits for), so status counts it beside the conversations.
    with setup.sessions.begin() as session:
        session.add(
            InboxMessage(
                id="inbox-1",
                channel="signal",
                digest="d" * 64,
                pseudonym_version=pseudonym.version,
                state="pending",
                dek_wrapped=b"wrapped",
                kek_version=kek.version,
                payload_ct=b"sealed",
                received_at=setup.clock(),
            )
        )
    [pseudonym] = [v for v in status_of(setup).keyring if v.kind == "pseudonym"]
    assert pseudonym.records == {"conversations": 15, "inbox": 1}


def test_keys_fall_due_after_their_crypto_period(setup: Setup) -> None:
    enrol(setup, "eu-del-ke", "Ana")
    setup.clock.advance(days=400)
    with setup.sessions.begin() as session:
        rotate_mission_key(session, setup.directory, "eu-del-ke", setup.clock())
    status = status_of(setup)
    due = {(v.kind, v.version) for v in status.keyring if v.due}
    assert due == {("kek", 1)}  # 365 days; pseudonym keys last 730
    assert [m.due for m in status.missions] == [False, False]  # only the current one counts
    assert any("kek version 1 is" in w and "keys rotate --kind kek" in w for w in status.warnings)
    setup.clock.advance(days=400)
    status = status_of(setup)
    assert {o.due for o in status.officers} == {True}
    assert {(v.kind, v.due) for v in status.keyring} == {("kek", True), ("pseudonym", True)}
    assert any("officers rotate-key" in w for w in status.warnings)


def test_status_warns_before_the_nonce_limit(setup: Setup) -> None:
    insert_records(setup.sessions, setup.cipher, 10, setup.clock())
    status = status_of(setup, encryption_warn=10)
    assert [v.due for v in status.keyring if v.kind == "kek"] == [True]
    assert any("random-nonce limit is 4,294,967,296" in w for w in status.warnings)
    # After a rotation the new primary starts afresh; the old one is only to be retired.
    rotate(setup)
    status = status_of(setup, encryption_warn=10)
    assert [(v.version, v.due) for v in status.keyring if v.kind == "kek"] == [
        (1, False),
        (2, False),
    ]
    assert any("keys rewrap" in w for w in status.warnings)


def test_an_encryption_in_a_rolled_back_transaction_is_still_counted(setup: Setup) -> None:
    with pytest.raises(RuntimeError), setup.sessions.begin():
        setup.cipher.new_key("conversation", "c-rolled-back")
        raise RuntimeError("the batch failed")
    with setup.sessions() as session:
        assert key_usage.encryptions(session) == {}
    with setup.sessions.begin():
        setup.cipher.new_key("conversation", "c-next")
    with setup.sessions() as session:
        assert key_usage.encryptions(session) == {1: 2}


def test_migration_0004_seeds_counters_and_officer_key_ages(database_url: str) -> None:
    engine = make_engine(database_url)
    migrate.upgrade(engine, "0003")
    when = datetime(2026, 1, 2, tzinfo=UTC).replace(tzinfo=None)
    # Given rows written by the 0003 code (plain SQL: the models have moved on)...
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO missions (id, name, kind, countries, languages, updated_at) "
                "VALUES ('m1', 'Mission', 'delegation', '[]', '[]', :when)"
            ),
            {"when": when},
        )
        connection.execute(
            text(
                "INSERT INTO officers (id, name, mission_id, public_key, key_id, wrapped_private_key,"
                " status, created_at) VALUES ('o1', 'Ana', 'm1', :b, 'k', :b, 'active', :when)"
            ),
            {"b": b"x", "when": when},
        )
        for n, version in enumerate((1, 1, 2)):
            connection.execute(
                text(
                    "INSERT INTO deliveries (id, channel, kind, dek_wrapped, kek_version, body_ct,"
                    " attempts, created_at) VALUES (:id, 'c', 'notify', :b, :v, :b, 0, :when)"
                ),
                {"id": f"d{n}", "b": b"x", "v": version, "when": when},
            )
    # ...when the schema reaches head, the counters start from the rows on each version.
    migrate.upgrade(engine)
    with make_session_factory(engine)() as session:
        assert key_usage.encryptions(session) == {1: 2, 2: 1}
        assert session.execute(text("SELECT key_created_at FROM officers")).scalar() is not None
    engine.dispose()


def test_verify_pages_through_every_record_once(setup: Setup) -> None:
    insert_records(setup.sessions, setup.cipher, 25, setup.clock())
    report = VerifyReport()
    # Pages of 2: keyset pagination on single and composite (channel state) keys.
    verify_keyring_records(setup.sessions, setup.cipher, report, page=2)
    assert report.ok and dict(report.checked) == {
        "conversation": 19,
        "delivery": 4,
        "attachment": 2,
        "channel_state": 3,
    }
    sampled = VerifyReport()
    verify_keyring_records(setup.sessions, setup.cipher, sampled, sample=4)
    assert (
        sampled.ok and sampled.checked["conversation"] == 4 and sampled.checked["attachment"] == 2
    )


def test_key_and_retention_settings_come_from_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        "[keys]\nkek_period_days = 90\nretire_grace_minutes = 0\n"
        "[retention]\nclosed_case_days = 30\n"
    )
    settings = load_settings({"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_CONFIG": str(config)})
    assert (settings.keys.kek_period_days, settings.keys.retire_grace_minutes) == (90, 0)
    assert settings.keys.encryption_warn == 2**30 and settings.retention.closed_case_days == 30
    config.write_text("[keys]\nencryption_warn = 8589934592\n")  # past AES-GCM's limit
    with pytest.raises(ConfigError, match=r"keys\.encryption_warn"):
        load_settings({"HRD_INTAKE_HOME": str(tmp_path), "HRD_INTAKE_CONFIG": str(config)})


def test_status_warns_of_a_passphrase_wrap_below_the_production_floor(setup: Setup) -> None:
    ana, _ = enrol(setup, "eu-del-ke", "Ana")  # the tests' cheap Argon2id (1 MiB)
    warnings = status_of(setup).warnings
    assert any(
        f"officer {ana}'s passphrase" in w and "below the production floor of 65536 KiB" in w
        for w in warnings
    )
