"""Storage contract: seals, mission and recovery keys, keyring-wrapped tables, verify pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from intake.storage import counts, mission_keys, pages, seals, wrapped_keys
from intake.storage.mission_keys import MissionKeyRef
from intake.storage.models import Conversation, KeySeal
from intake.storage.pages import MissionPublicKey, SealedCase, SealedEvent
from intake.storage.seals import HeldSeal
from intake.storage.wrapped_keys import WRAPPED_TABLES
from tests.support import rows
from tests.support.rows import BLOB, T0

TABLES = {spec.name: spec for spec in WRAPPED_TABLES}


def _recipients(found: list[KeySeal]) -> list[tuple[str, str, int]]:
    return sorted((s.record_id, s.recipient, s.recipient_version) for s in found)


def _sealed_world(session: Session) -> None:
    rows.mission(session, "m-a")
    rows.mission(session, "m-b")
    rows.case(session, "c1", "m-a")
    rows.case(session, "c2", "m-b")
    rows.event(session, "e1", "c1")
    for record_type, record_id in (("case", "c1"), ("case", "c2"), ("event", "e1")):
        rows.seal(session, record_type, record_id, "recovery:old")
    rows.seal(session, "case", "c1", "mission:m-a", 1)
    rows.seal(session, "case", "c1", "mission:m-a", 2)
    rows.seal(session, "mission_key", "m-a/1", "officer:ann")
    rows.seal(session, "mission_key", "m-a/2", "officer:ann")
    rows.seal(session, "mission_key", "m-a/2", "officer:bob")
    rows.seal(session, "mission_key", "m-a/2", "recovery:old")


def test_seals_found_by_record_and_by_recipient(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _sealed_world(session)
    with sessions() as session:
        assert _recipients(seals.seals_of_record(session, "case", "c1")) == [
            ("c1", "mission:m-a", 1),
            ("c1", "mission:m-a", 2),
            ("c1", "recovery:old", 1),
        ]
        assert seals.seals_of_record(session, "event", "c1") == []  # the type is part of the key
        assert _recipients(seals.seals_of_records(session, "case", ["c2", "gone"])) == [
            ("c2", "recovery:old", 1)
        ]
        to_recovery = seals.seals_to_recipient(session, "recovery:old", limit=10)
        assert len(to_recovery) == 4 and {s.recipient for s in to_recovery} == {"recovery:old"}
        assert len(seals.seals_to_recipient(session, "recovery:old", limit=2)) == 2
        assert seals.count_seals_to_recipient(session, "recovery:old") == 4
        assert seals.count_seals_to_recipient(session, "recovery:new") == 0
        assert sorted(seals.mission_key_records_held_by(session, "officer:ann")) == [
            "m-a/1",
            "m-a/2",
        ]
        assert sorted(
            seals.officer_mission_key_seals(session), key=lambda h: (h.recipient, h.record_id)
        ) == [
            HeldSeal("officer:ann", "m-a/1"),
            HeldSeal("officer:ann", "m-a/2"),
            HeldSeal("officer:bob", "m-a/2"),
        ]
        assert seals.count_officer_seals_by_mission_key(session) == {"m-a/1": 1, "m-a/2": 2}
        assert seals.count_recovery_seals_by_recipient(session) == {"recovery:old": 4}


def test_seals_deleted_by_record_recipient_version_and_orphans(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _sealed_world(session)
        rows.seal(session, "case", "c-gone", "recovery:old")  # its case was purged
        rows.seal(session, "event", "e-gone", "recovery:old")
    with sessions.begin() as session:
        assert seals.delete_seals_to_other_versions(session, "case", "c1", "mission:m-a", 2) == 1
        assert seals.delete_mission_key_seals_to(session, "officer:ann") == 2
        assert seals.delete_seals_of_records(session, "case", []) == 0
        assert seals.delete_seals_of_records(session, "case", ["c2"]) == 1
        assert seals.delete_orphan_seals(session) == 2
    with sessions() as session:
        assert _recipients(seals.seals_of_record(session, "case", "c1")) == [
            ("c1", "mission:m-a", 2),
            ("c1", "recovery:old", 1),
        ]
        assert seals.seals_of_record(session, "case", "c2") == []
        assert seals.mission_key_records_held_by(session, "officer:ann") == []
        assert seals.seals_of_records(session, "case", ["c-gone"]) == []
        assert seals.count_seals_to_recipient(session, "recovery:old") == 3  # c1, e1, m-a/2


def test_mission_key_versions_and_recovery_keys(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.mission(session, "m-b")
        rows.mission(session, "m-c")
        rows.mission_key(session, "m-b", 1)
        rows.mission_key(session, "m-a", 2)
        rows.mission_key(session, "m-a", 1)
        rows.mission_key(session, "m-a", 3)
        rows.recovery_key(session, "new", active=True, created_at=T0)
        rows.recovery_key(session, "old", active=False, created_at=T0 - timedelta(days=400))
    with sessions() as session:
        latest = mission_keys.latest_mission_key(session, "m-a")
        assert latest is not None and (latest.version, latest.key_id) == (3, "mk-m-a-3")
        assert mission_keys.latest_mission_key(session, "m-c") is None
        assert sorted(mission_keys.mission_key_versions(session, "m-a")) == [1, 2, 3]
        assert mission_keys.mission_key_versions(session, "m-c") == []
        assert mission_keys.missions_with_keys(session) == {"m-a", "m-b"}
        assert sorted(
            mission_keys.mission_key_refs(session), key=lambda r: (r.mission_id, r.version)
        ) == [
            MissionKeyRef("m-a", 1),
            MissionKeyRef("m-a", 2),
            MissionKeyRef("m-a", 3),
            MissionKeyRef("m-b", 1),
        ]
        ordered = mission_keys.mission_keys_by_mission_and_version(session)
        assert [(k.mission_id, k.version) for k in ordered] == [
            ("m-a", 1),
            ("m-a", 2),
            ("m-a", 3),
            ("m-b", 1),
        ]
        active = mission_keys.active_recovery_key_row(session)
        assert active is not None and active.key_id == "new"
        assert [k.key_id for k in mission_keys.recovery_keys_oldest_first(session)] == [
            "old",
            "new",
        ]


def test_no_active_recovery_key(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows.recovery_key(session, "retired", active=False)
    with sessions() as session:
        assert mission_keys.active_recovery_key_row(session) is None


def _keyring_world(session: Session) -> None:
    rows.mission(session, "m-a")
    rows.conversation(session, "v1", kek_version=1)
    rows.conversation(session, "v2", kek_version=2)
    rows.conversation(session, "v3", kek_version=1)
    rows.case(session, "c-open", "m-a", sealed=False)  # still under the keyring (version 1)
    rows.case(session, "c-sealed", "m-a")  # no server copy: needs no KEK
    rows.delivery(session, "d1", kek_version=3)
    rows.channel_state(session, "matrix", "token", kek_version=1)
    rows.channel_state(session, "matrix", "device", kek_version=2)


def test_records_per_version_and_versions_other_than_primary(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _keyring_world(session)
    with sessions() as session:
        assert wrapped_keys.records_per_version(session) == {
            1: {"conversations": 2, "cases": 1, "channel_state": 1},
            2: {"conversations": 1, "channel_state": 1},
            3: {"deliveries": 1},
        }
        assert wrapped_keys.records_on_version(session, 2) == {
            "conversations": 1,
            "channel_state": 1,
        }
        assert wrapped_keys.records_on_version(session, 9) == {}
        assert wrapped_keys.records_not_on(session, 2) == 5
        conversations = TABLES["conversations"]
        assert sorted(wrapped_keys.kek_versions_other_than(session, conversations, 2)) == [1]
        assert wrapped_keys.kek_versions_other_than(session, TABLES["cases"], 1) == []
        assert wrapped_keys.kek_versions_other_than(session, TABLES["deliveries"], 2) == [3]


def test_rows_on_a_version_are_rewrapped_only_while_unchanged(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        _keyring_world(session)
    spec = TABLES["conversations"]
    with sessions() as session:
        on_one = wrapped_keys.rows_on_kek_version(session, spec, 1, limit=10)
        assert sorted(row.id for row in on_one) == ["v1", "v3"]
        assert [
            row.id for row in wrapped_keys.rows_on_kek_version(session, spec, 1, 10, [("v1",)])
        ] == ["v3"]
        assert len(wrapped_keys.rows_on_kek_version(session, spec, 1, limit=1)) == 1
        state = TABLES["channel_state"]
        composite = wrapped_keys.rows_on_kek_version(session, state, 2, 10, [("matrix", "token")])
        assert [(row.channel, row.key) for row in composite] == [("matrix", "device")]
    with sessions.begin() as session:
        changes = [
            (b"rewrapped-v1", 2, "v1", 1, b"wrapped-v1"),
            (b"rewrapped-v3", 2, "v3", 1, b"not what the row holds"),  # changed meanwhile
        ]
        assert wrapped_keys.update_wrapped_keys(session, spec, changes) == 1
    with sessions() as session:
        v1, v3 = session.get(Conversation, "v1"), session.get(Conversation, "v3")
        assert v1 is not None and (v1.dek_wrapped, v1.kek_version) == (b"rewrapped-v1", 2)
        assert v3 is not None and (v3.dek_wrapped, v3.kek_version) == (b"wrapped-v3", 1)


def test_keyring_record_pages_see_every_wrapped_row_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _keyring_world(session)
        for n in range(5):
            rows.channel_state(session, "telegram", f"k{n}")
    state = TABLES["channel_state"]
    seen = [
        (row.channel, row.key, row.value_ct)
        for page in pages.keyring_record_pages(sessions, state, sample=None, page=2)
        for row in page
    ]
    assert len(seen) == 7 and len(set(seen)) == 7  # composite keyset, pages of two
    assert all(value == BLOB for *_, value in seen)
    cases = [
        row.id
        for page in pages.keyring_record_pages(sessions, TABLES["cases"], None, 1)
        for row in page
    ]
    assert cases == ["c-open"]  # a sealed case carries no wrapped key
    sampled = list(pages.keyring_record_pages(sessions, state, sample=3))
    assert len(sampled) == 1 and len(sampled[0]) == 3


def test_sealed_record_pages(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.mission(session, "m-b")
        rows.case(session, "c1", "m-a", reference="R-1", payload=b"p1")
        rows.case(session, "c2", "m-b", reference="R-2", payload=b"p2")
        rows.case(session, "c3", "m-a", reference="R-3", sealed=False)
        rows.event(session, "e1", "c2", body=b"b1")
        rows.event(session, "e2", "c1", body=b"b2")
        rows.mission_key(session, "m-b", 1)
        rows.mission_key(session, "m-a", 1)
        rows.mission_key(session, "m-a", 2)
    found_cases = [c for _, page in pages.sealed_case_pages(sessions, None, page=1) for c in page]
    assert found_cases == [
        SealedCase("c1", "R-1", "m-a", b"p1"),
        SealedCase("c2", "R-2", "m-b", b"p2"),
    ]
    found_events = [e for _, page in pages.event_pages(sessions, None, page=1) for e in page]
    assert found_events == [SealedEvent("e1", "m-b", b"b1"), SealedEvent("e2", "m-a", b"b2")]
    keys = [k for _, page in pages.mission_key_pages(sessions, None, page=2) for k in page]
    assert keys == [
        MissionPublicKey("m-a", 1, b"public-m-a-1"),
        MissionPublicKey("m-a", 2, b"public-m-a-2"),
        MissionPublicKey("m-b", 1, b"public-m-b-1"),
    ]
    # Each page comes with the open session it was read in.
    for session, page in pages.mission_key_pages(sessions, sample=2):
        assert len(page) == 2 and session.is_active


def test_officers_holding_mission_keys_counts_active_officers_only(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        rows.mission(session, "m-a")
        rows.officer(session, "ann", "m-a")
        rows.officer(session, "bob", "m-a", status="revoked")
        rows.seal(session, "mission_key", "m-a/1", "officer:ann")
        rows.seal(session, "mission_key", "m-a/2", "officer:bob")
        rows.seal(session, "mission_key", "m-a/2", "recovery:old")
    with sessions() as session:
        assert seals.officers_holding_mission_keys(session) == {"m-a/1": {"ann"}}


def test_unreadable_queues_need_a_case_seal_an_active_officer_can_open(
    sessions: sessionmaker[Session],
) -> None:
    # Given m-a: c1 sealed to version 1 (Ann holds it), c2 to version 2 (only revoked Bob);
    # m-b: a key but c3 sealed to the recovery key only; m-c: no key, no officer; m-d: empty
    with sessions.begin() as session:
        for mission_id in ("m-a", "m-b", "m-c", "m-d"):
            rows.mission(session, mission_id)
        rows.officer(session, "ann", "m-a")
        rows.officer(session, "bob", "m-a", status="revoked")
        rows.officer(session, "cat", "m-b")
        rows.mission_key(session, "m-a", 1)
        rows.mission_key(session, "m-a", 2)
        rows.mission_key(session, "m-b", 1)
        for case_id, mission_id in (("c1", "m-a"), ("c2", "m-a"), ("c3", "m-b"), ("c4", "m-c")):
            rows.case(session, case_id, mission_id)
        rows.seal(session, "case", "c1", "mission:m-a", 1)
        rows.seal(session, "case", "c2", "mission:m-a", 2)
        rows.seal(session, "case", "c3", "recovery:old")
        rows.seal(session, "mission_key", "m-a/1", "officer:ann")
        rows.seal(session, "mission_key", "m-a/2", "officer:bob")
        rows.seal(session, "mission_key", "m-b/1", "officer:cat")
    with sessions() as session:
        found = counts.unreadable_queues(session)
    assert found == [
        counts.UnreadableQueue("m-a", 1, True),
        counts.UnreadableQueue("m-b", 1, True),
        counts.UnreadableQueue("m-c", 1, False),
    ]
