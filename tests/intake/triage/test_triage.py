"""Officers, sealing to missions, the triage workflow and replies, on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crypto import CryptoError, DataKey, Keyring, load_keyring, unwrap_data_key
from intake.core import desks
from intake.core.desks import keyring_passphrase
from intake.errors import DuressRefused, IllegalTransition, NoKeyAtHand, OfficerRefused
from intake.keys.holders import KeysAtHand
from intake.references import CaseRef
from intake.storage.models import Attachment, Case, ChannelState, Conversation, Delivery
from intake.storage.records import RecordCipher
from intake.triage import actions as triage
from intake.triage import officers
from intake.triage.desk import Acting
from intake.triage.queue import list_cases, open_case
from tests.support.defender import Defender, assistance_request, play, threat_report
from tests.support.deliveries import render_reply
from tests.support.officers import enrol
from tests.support.setup import Setup

PASSPHRASE = b"correct horse battery staple"


def submit(setup: Setup, script: list[tuple[str, str]], sender: str = "d1") -> tuple[Defender, str]:
    defender = Defender(setup.service(), sender=sender)
    defender.send("/start")
    play(defender, script)
    return defender, defender.reference()


def all_server_data_keys(setup: Setup, keyring: Keyring) -> list[bytes]:
    """Every key the server alone can produce: KEK material and every data key it can unwrap."""
    keys: list[bytes] = [entry.material for entry in keyring.versions("kek") if entry.material]
    with setup.sessions() as session:
        for model, record_type in (
            (Conversation, "conversation"),
            (Attachment, "attachment"),
            (Delivery, "delivery"),
            (Case, "case"),
            (ChannelState, "channel_state"),
        ):
            for row in session.scalars(select(model)):
                wrapped = getattr(row, "dek_wrapped", None)
                if wrapped is None:
                    continue
                record_id = row.id if hasattr(row, "id") else f"{row.channel}/{row.key}"
                keys.append(unwrap_data_key(keyring, wrapped, record_type, record_id))
    return keys


def test_after_submission_the_server_alone_cannot_read_a_case(setup: Setup) -> None:
    _officer_id, officer_keys = enrol(setup, "eu-del-ke", "Ana Officer")
    _, reference = submit(setup, threat_report("Kenya", details="only for officers"))
    keyring = load_keyring(setup.settings.keyring.path, keyring_passphrase(setup.settings))
    cipher = RecordCipher(lambda: keyring)
    with setup.sessions() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None and case.dek_wrapped is None  # the server's copy is gone
        # Given every key the server holds or can unwrap, none opens the case.
        for key in all_server_data_keys(setup, keyring):
            with pytest.raises(CryptoError):
                cipher.open(DataKey(key), "case", case.id, "payload", case.payload_ct)
        with pytest.raises(NoKeyAtHand):
            open_case(session, setup.cipher, reference)
        # With the officer's passphrase it opens; with the recovery key file too.
        assert (
            open_case(session, setup.cipher, reference, officer_keys).payload["answers"]["details"]
            == "only for officers"
        )
        assert (
            open_case(session, setup.cipher, reference, setup.recovery).payload["flow"]
            == "threat_report"
        )


def test_a_changed_reference_breaks_the_seal_binding(setup: Setup) -> None:
    _, officer_keys = enrol(setup, "eu-del-ke", "Ana")
    _, reference = submit(setup, threat_report("Kenya"))
    with setup.sessions.begin() as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        case.reference = "HRD-0000-0000"
    with setup.sessions() as session, pytest.raises(CryptoError):
        open_case(session, setup.cipher, "HRD-0000-0000", officer_keys)


def test_officers_see_and_open_only_their_missions_cases(setup: Setup) -> None:
    ke_id, ke_keys = enrol(setup, "eu-del-ke", "Kenya Officer")
    _ua_id, ua_keys = enrol(setup, "eu-del-ua", "Ukraine Officer")
    _, kenyan = submit(setup, threat_report("Kenya"), "a")
    _, ukrainian = submit(setup, assistance_request("Ukraine"), "b")
    with setup.sessions() as session:
        ke = officers.active_officer(session, ke_id)
        assert triage.find_case(session, kenyan, ke).reference == kenyan
        with pytest.raises(OfficerRefused):
            triage.find_case(session, ukrainian, ke)
        # Even bypassing the check, the Kenya officer's key cannot open it.
        with pytest.raises(NoKeyAtHand):
            open_case(session, setup.cipher, ukrainian, ke_keys)
        assert (
            open_case(session, setup.cipher, ukrainian, ua_keys).payload["flow"]
            == "assistance_request"
        )


def test_a_revoked_officer_opens_nothing(setup: Setup) -> None:
    officer_id, keys_before = enrol(setup, "eu-del-ke", "Leaving Officer")
    _, reference = submit(setup, threat_report("Kenya"))
    with setup.sessions.begin() as session:
        assert officers.revoke(session, officer_id, setup.clock(), force=True) == 1
    with setup.sessions() as session:
        with pytest.raises(OfficerRefused):
            officers.unlock(session, officer_id, PASSPHRASE)
        # A key unlocked before the revocation no longer reaches the mission key.
        with pytest.raises(NoKeyAtHand):
            open_case(session, setup.cipher, reference, keys_before)


def test_second_officer_needs_a_member_or_the_recovery_key(setup: Setup) -> None:
    _, first_keys = enrol(setup, "eu-del-ke", "First")
    _, reference = submit(setup, threat_report("Kenya"))
    with setup.sessions.begin() as session, pytest.raises(NoKeyAtHand):
        officers.enrol(
            session,
            setup.directory,
            mission_id="eu-del-ke",
            name="Second",
            passphrase=PASSPHRASE,
            now=setup.clock(),
        )
    _, second_keys = enrol(setup, "eu-del-ke", "Second", unlock=first_keys)
    _, third_keys = enrol(setup, "eu-del-ke", "Third", unlock=setup.recovery)
    with setup.sessions() as session:
        for keys in (second_keys, third_keys):
            assert (
                open_case(session, setup.cipher, reference, keys).payload["flow"] == "threat_report"
            )


def test_full_workflow_reply_answer_transfer_close(setup: Setup) -> None:
    ke_id, ke_keys = enrol(setup, "eu-del-ke", "Kenya Officer")
    ua_id, ua_keys = enrol(setup, "eu-del-ua", "Ukraine Officer")
    service = setup.service()
    defender, reference = submit(setup, threat_report("Kenya"))
    now = setup.clock

    with setup.sessions.begin() as session:
        ke = officers.active_officer(session, ke_id)
        case = triage.find_case(session, reference, ke)
        assert (
            triage.change_status(session, case, "ack", f"officer:{ke_id}", now()) == "acknowledged"
        )
        with pytest.raises(IllegalTransition):
            triage.change_status(session, case, "ack", f"officer:{ke_id}", now())
        triage.claim(session, case, ke, now())
        triage.note(session, setup.cipher, case, f"officer:{ke_id}", "called the lawyer", now())
        triage.reply(
            session,
            setup.cipher,
            case,
            ke_keys,
            f"officer:{ke_id}",
            "Are you safe tonight?",
            render_reply,
            now(),
        )
        assert case.status == "awaiting_defender"

    # The bot delivers the reply in the defender's own conversation...
    [delivery] = service.claim_deliveries("console")
    assert delivery.chat == defender.chat and "Are you safe tonight?" in delivery.text
    assert reference in delivery.text
    service.delivered(delivery, ["bot-msg-9"])
    assert service.claim_deliveries("console") == []
    # ...and the defender answers in it.
    defender.send("Yes, I am with my sister.")
    assert "passed on" in defender.text

    with setup.sessions.begin() as session:
        opened = open_case(session, setup.cipher, reference, ke_keys)
        assert [(e.kind, e.text) for e in opened.events] == [
            ("note", "called the lawyer"),
            ("reply", "Are you safe tonight?"),
            ("defender", "Yes, I am with my sister."),
        ]
        case = triage.find_case(session, reference, None)
        assert case.status == "in_progress"
        triage.transfer(
            session, setup.cipher, case, ke_keys, "eu-del-ua", f"officer:{ke_id}", now()
        )

    with setup.sessions.begin() as session:
        with pytest.raises(NoKeyAtHand):
            open_case(session, setup.cipher, reference, ke_keys)
        moved = open_case(session, setup.cipher, reference, ua_keys)
        assert [e.text for e in moved.events][-1] == "Yes, I am with my sister."
        case = triage.find_case(session, reference, officers.active_officer(session, ua_id))
        assert (case.status, case.claimed_by) == ("transferred", None)
        triage.change_status(session, case, "close", f"officer:{ua_id}", now())
    # Once answered, the conversation forgot the case: more text is not passed on.
    defender.send("one more thing")
    assert "passed on" not in defender.text and reference not in defender.text


def reply_and_deliver(setup: Setup, reference: str, keys: KeysAtHand, text: str) -> None:
    service = setup.service()
    with setup.sessions.begin() as session:
        case = triage.find_case(session, reference, None)
        triage.reply(
            session,
            setup.cipher,
            case,
            keys,
            "officer:x",
            text,
            render_reply,
            setup.clock(),
        )
    [delivery] = service.claim_deliveries("console")
    service.delivered(delivery, ["bot-msg-1"])


def test_the_reply_finds_the_defender_through_the_sealed_return_address(setup: Setup) -> None:
    _, keys = enrol(setup, "eu-del-ke", "Ana")
    defender, reference = submit(setup, threat_report("Kenya"))
    # Given the defender's conversation is gone (/delete destroys it)...
    defender.send("/delete")
    with setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        # ...the case alone knows where they are, sealed: the delivery holds no conversation.
        opened = open_case(session, setup.cipher, reference, keys)
        assert opened.payload["return"]["chat"] == defender.chat
        assert "conversation" not in opened.payload
    service = setup.service()
    with setup.sessions.begin() as session:
        triage.reply(
            session,
            setup.cipher,
            triage.find_case(session, reference, None),
            keys,
            "officer:x",
            "Still there?",
            render_reply,
            setup.clock(),
        )
    with setup.sessions() as session:
        assert session.scalar(select(Delivery.conversation_id)) is None
    [delivery] = service.claim_deliveries("console")
    assert delivery.chat == defender.chat and "Still there?" in delivery.text
    service.delivered(delivery, ["bot-msg-2"])
    # The answer still reaches the officer; then the conversation forgets the case.
    defender.send("Yes, moved to a safe place.")
    assert "passed on" in defender.text
    defender.send("and another thing")
    assert "passed on" not in defender.text
    with setup.sessions() as session:
        events = open_case(session, setup.cipher, reference, keys).events
    assert [e.kind for e in events] == ["reply", "defender"]


def test_an_answer_to_a_case_closed_meanwhile_is_not_passed_on(setup: Setup) -> None:
    _, keys = enrol(setup, "eu-del-ke", "Ana")
    defender, reference = submit(setup, threat_report("Kenya"))
    reply_and_deliver(setup, reference, keys, "Are you safe?")
    with setup.sessions.begin() as session:
        case = triage.find_case(session, reference, None)
        triage.change_status(session, case, "close", "officer:x", setup.clock())
    defender.send("yes")
    assert "closed" in defender.text
    defender.send("hello again")
    assert "closed" not in defender.text  # forgotten


def test_after_duress_a_reply_is_refused_and_the_case_flagged(setup: Setup) -> None:
    setup.settings = setup.settings.model_copy(update={"duress_words": ("bluebird",)})
    ana, keys = enrol(setup, "eu-del-ke", "Ana")
    defender, reference = submit(setup, threat_report("Kenya"))
    defender.send("Bluebird")
    assert defender.wiped
    desk = desks.build_desk(setup.settings, setup.sessions, setup.cipher, setup.clock)
    with setup.sessions() as session:
        acting = Acting(officers.active_officer(session, ana), keys)
    with pytest.raises(DuressRefused):
        desk.reply(CaseRef(reference), acting, "Are you safe?")
    assert setup.service().claim_deliveries("console") == []
    with setup.sessions() as session:
        assert [c.flagged for c in list_cases(session)] == [True]


def test_claims_are_exclusive(setup: Setup) -> None:
    first_id, first_keys = enrol(setup, "eu-del-ke", "First")
    second_id, _ = enrol(setup, "eu-del-ke", "Second", unlock=first_keys)
    _, reference = submit(setup, threat_report("Kenya"))
    with setup.sessions.begin() as session:
        triage.claim(
            session,
            triage.find_case(session, reference, None),
            officers.active_officer(session, first_id),
            setup.clock(),
        )
    with setup.sessions.begin() as session:
        second = officers.active_officer(session, second_id)
        with pytest.raises(OfficerRefused, match="already claimed"):
            triage.claim(
                session, triage.find_case(session, reference, second), second, setup.clock()
            )
    with setup.sessions() as session:
        assert [c.claimed_by for c in list_cases(session)] == [first_id]


def test_first_mission_key_reseals_earlier_cases(setup: Setup) -> None:
    from intake.keys.holders import reseal_to_mission

    _, reference = submit(setup, threat_report("Kenya"))  # no officer yet: recovery only
    _, keys = enrol(setup, "eu-del-ke", "First")
    with setup.sessions() as session, pytest.raises(NoKeyAtHand):
        open_case(session, setup.cipher, reference, keys)
    with setup.sessions.begin() as session:
        assert (
            reseal_to_mission(session, setup.directory, setup.recovery, "eu-del-ke", setup.clock())
            == 1
        )
        assert (
            reseal_to_mission(session, setup.directory, setup.recovery, "eu-del-ke", setup.clock())
            == 0
        )
    with setup.sessions() as session:
        assert open_case(session, setup.cipher, reference, keys).payload["flow"] == "threat_report"


def test_officers_are_notified_without_content(setup: Setup) -> None:
    notifications = setup.settings.notifications.model_copy(update={"telegram_chat": "-1001"})
    setup.settings = setup.settings.model_copy(update={"notifications": notifications})
    _, reference = submit(setup, threat_report("Kenya", details="CANARY-NOT-IN-NOTICE"))
    [notice] = setup.service().claim_deliveries("telegram")
    assert notice.chat == "-1001" and notice.kind == "notify"
    assert reference in notice.text and "eu-del-ke" in notice.text and "immediate" in notice.text
    assert "CANARY" not in notice.text


def test_a_device_change_warns_the_officers_on_the_awaited_case(setup: Setup) -> None:
    _, keys = enrol(setup, "eu-del-ke", "Ana")
    defender, reference = submit(setup, threat_report("Kenya"))
    service = setup.service()
    # No case list: the case it can warn is the one whose reply awaits an answer.
    assert service.warn_device_change("console", defender.sender) == 0
    reply_and_deliver(setup, reference, keys, "Are you safe?")
    assert service.warn_device_change("console", defender.sender) == 1
    assert service.warn_device_change("console", "nobody") == 0
    with setup.sessions() as session:
        [_, event] = open_case(session, setup.cipher, reference, keys).events
    assert event.kind == "warning" and "new device that they have not verified" in event.text
    # A report still being drafted gets the warning when it is submitted.
    play(defender, threat_report("Kenya"))
    with setup.sessions() as session:
        later = open_case(session, setup.cipher, defender.reference(), keys)
    assert [e.kind for e in later.events] == ["warning"]
    # A changed identity is worded as such, on the awaited case (the one case the
    # conversation still knows) and on the next submission.
    assert service.warn_device_change("console", defender.sender, "identity_changed") == 1
    play(defender, threat_report("Kenya"))
    with setup.sessions() as session:
        last = open_case(session, setup.cipher, defender.reference(), keys)
    assert "identity (their cross-signing key) changed" in last.events[0].text
