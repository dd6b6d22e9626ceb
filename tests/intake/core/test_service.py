"""The conversation service end to end on real databases (SQLite and PostgreSQL)."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from intake.config import RoutingRule
from intake.messages import Attachment, Inbound, Reply, WipeChat
from intake.storage import conversations as storage
from intake.storage.models import Attachment as AttachmentRow
from intake.storage.models import Case, Conversation, ProcessedMessage
from intake.triage.queue import list_cases, open_case
from tests.support.defender import Defender, assistance_request, play, threat_report
from tests.support.pdfs import CANARIES, telling_pdf
from tests.support.setup import Setup


def count(setup: Setup, model: type) -> int:
    with setup.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_threat_report_lands_in_the_country_mission_queue(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report("Kenya", details="Men waited outside my office."))
    reference = defender.reference()

    with setup.sessions() as session:
        [case] = list_cases(session)
        content = open_case(session, setup.cipher, reference, setup.recovery)
    assert (case.reference, case.mission, case.kind, case.urgency, case.status) == (
        reference,
        "eu-del-ke",
        "threat_report",
        "immediate",
        "new",
    )
    assert content.payload["answers"]["details"] == "Men waited outside my office."
    assert content.payload["answers"]["threat_types"] == ["intimidation", "harassment"]
    assert content.payload["routing"]["country"] == "KE"


def test_assistance_request_routes_by_country_and_urgency_sorts(setup: Setup) -> None:
    first = Defender(setup.service(), sender="a")
    first.send("/start")
    play(first, assistance_request("Ukraine"))  # urgency "days"
    second = Defender(setup.service(), sender="b")
    second.send("/start")
    play(second, threat_report("Kenya"))  # urgency "immediate"

    with setup.sessions() as session:
        queue = list_cases(session)
        ukraine = list_cases(session, missions=["eu-del-ua"])
    assert [c.urgency for c in queue] == ["immediate", "days"]
    assert [(c.kind, c.reference) for c in ukraine] == [("assistance_request", first.reference())]


def test_unserved_country_goes_to_the_fallback_queue(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report("Brazil"))
    with setup.sessions() as session:
        assert [c.mission for c in list_cases(session)] == ["eeas-hq"]


def test_not_listed_goes_to_the_fallback_with_the_typed_place_sealed(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    script = threat_report("Atlantis of the North")
    play(defender, script[:3])
    assert defender.choices == ["unlisted"]
    defender.choose("unlisted")
    play(defender, script[3:])
    with setup.sessions() as session:
        [case] = list_cases(session)
        content = open_case(session, setup.cipher, defender.reference(), setup.recovery)
    assert case.mission == "eeas-hq"
    assert content.payload["answers"]["country"] == "ZZ"
    assert content.payload["answers"]["country.place"] == "Atlantis of the North"
    assert content.payload["routing"]["country"] is None


def test_a_subdivision_is_in_the_sealed_routing_and_its_rule_routes(setup: Setup) -> None:
    # Given Crimea (UA-43) served by another mission than the delegation to Ukraine
    rule = RoutingRule(mission="eu-del-ge", countries=("UA-43",))
    routing = setup.settings.routing.model_copy(update={"rules": (rule,)})
    setup.settings = setup.settings.model_copy(update={"routing": routing})
    defender = Defender(setup.service())
    defender.send("/start")
    script = threat_report("Crimea")
    play(defender, script[:3])
    defender.choose("UA-43")  # "Crimea, Ukraine?" confirmed
    play(defender, script[3:])
    with setup.sessions() as session:
        [case] = list_cases(session)
        content = open_case(session, setup.cipher, defender.reference(), setup.recovery)
    assert case.mission == "eu-del-ge"
    assert content.payload["routing"]["country"] == "UA"
    assert content.payload["routing"]["subdivision"] == "UA-43"


def test_submission_wipes_the_chat_and_forgets_the_ids(setup: Setup) -> None:
    service = setup.service()
    defender = Defender(service)
    defender.send("/start")
    service.record_sent("console", defender.sender, ["bot-1", "bot-2"])
    play(defender, threat_report())

    [wipe] = [r for r in defender.last if isinstance(r, WipeChat)]
    assert {"bot-1", "bot-2", f"trace-{defender.sent_ids[0]}"} <= set(wipe.message_ids)
    assert f"trace-{defender.sent_ids[-1]}" in wipe.message_ids
    defender.send("/delete")
    [second] = [r for r in defender.last if isinstance(r, WipeChat)]
    assert second.message_ids == (f"trace-{defender.sent_ids[-1]}",)


def test_restart_resumes_at_the_same_step(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report()[:5])  # stops at "when"
    asked = defender.text.splitlines()[-1]

    # Given a new service instance on the same database (a restart)...
    resumed = Defender(setup.service(), sender=defender.sender)
    resumed.send("/start")
    # ...it asks the same question and takes the rest of the report.
    assert asked in resumed.text
    play(resumed, threat_report()[5:])
    with setup.sessions() as session:
        [case] = list_cases(session)
        answers = open_case(session, setup.cipher, case.reference, setup.recovery).payload[
            "answers"
        ]
    assert answers["at_risk"] == "me" and answers["when"] == "ongoing"


def test_replayed_message_is_processed_once(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    defender.choose("threat_report")
    defender.send(choice="yes", message_id="tg-42")
    asked = defender.text
    before = count(setup, ProcessedMessage)

    # The platform delivers the same message again: it is not answered twice.
    defender.send(choice="yes", message_id="tg-42")
    assert count(setup, ProcessedMessage) == before
    assert defender.text.splitlines()[-1] == asked.splitlines()[-1]
    defender.send("Kenya")
    assert "me" in defender.choices  # the flow moved exactly one step


def test_a_message_is_claimed_once_whatever_the_driver_reports(setup: Setup) -> None:
    # psycopg reports no row count for INSERT ... ON CONFLICT: the claim must not rely on it.
    with setup.sessions.begin() as session:
        assert storage.claim_message(session, "telegram", "d" * 64, setup.clock())
        assert not storage.claim_message(session, "telegram", "d" * 64, setup.clock())
    with setup.sessions.begin() as session:
        assert not storage.claim_message(session, "telegram", "d" * 64, setup.clock())
        assert storage.claim_message(session, "matrix", "d" * 64, setup.clock())


def test_a_redelivered_answer_does_not_answer_the_next_question(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    defender.choose("threat_report")
    defender.choose("yes")
    defender.send("Kenya", message_id="tg-country")
    who = defender.choices
    # "Kenya" again, at the question about whom the threat targets: if it were
    # processed anew it would be refused as an answer; as a redelivery it only
    # repeats the question.
    asked = defender.text
    defender.send("Kenya", message_id="tg-country")
    assert defender.text == asked and defender.choices == who
    defender.choose("me")


def test_status_takes_the_kept_reference_and_shows_no_content(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report(details="secret-detail"))
    reference = defender.reference()
    # The conversation keeps no list of cases: a bare /status asks for the reference.
    defender.send("/status")
    assert reference not in defender.text and "/status HRD-" in defender.text
    defender.send(f"/status {reference.lower()}")
    assert reference in defender.text and "Received" in defender.text
    assert "secret-detail" not in defender.text
    defender.send("/status HRD-0000-0000")
    assert "no report or request with that reference" in defender.text


def exif_photo() -> bytes:
    image = Image.new("RGB", (32, 24), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "CanaryCam"  # camera make
    exif.get_ifd(0x8825)[2] = (50.0, 27.0, 0.0)  # GPS latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_photo_is_stored_without_exif_and_follows_the_case(setup: Setup) -> None:
    photo = exif_photo()
    assert b"CanaryCam" in photo
    defender = Defender(setup.service())
    defender.send("/start")
    script = threat_report()
    play(defender, script[:7])
    defender.send(attachment=Attachment(photo, "image/jpeg", "IMG_0001.jpg"))
    assert "done" in defender.choices
    defender.choose("done")
    play(defender, script[8:])

    with setup.sessions() as session:
        content = open_case(session, setup.cipher, defender.reference(), setup.recovery)
        row = session.scalar(select(AttachmentRow))
    [stored] = content.attachments
    assert stored.media_type == "image/jpeg"
    assert b"CanaryCam" not in stored.data
    with Image.open(io.BytesIO(stored.data)) as image:
        assert image.size == (32, 24)
        assert not image.getexif()
    # The server-side copy of the file's key is gone: only the case opens it.
    assert row is not None and row.dek_wrapped is None and row.conversation_id is None


def test_a_pdf_reaches_the_officer_without_author_xmp_or_photo_gps(setup: Setup) -> None:
    document = telling_pdf()
    assert all(canary in document for canary in CANARIES)
    defender = Defender(setup.service())
    defender.send("/start")
    script = threat_report()
    play(defender, script[:7])
    defender.send(attachment=Attachment(document, "application/pdf", "statement.pdf"))
    defender.choose("done")
    play(defender, script[8:])
    with setup.sessions() as session:
        content = open_case(session, setup.cipher, defender.reference(), setup.recovery)
    [stored] = content.attachments
    assert stored.media_type == "application/pdf" and stored.data.startswith(b"%PDF-")
    assert not any(canary in stored.data for canary in CANARIES)


def test_a_pdf_that_cannot_be_cleaned_is_refused_with_an_answer(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report()[:7])
    defender.send(attachment=Attachment(telling_pdf("secret"), "application/pdf", "x.pdf"))
    assert "could not remove the hidden details" in defender.text
    assert count(setup, AttachmentRow) == 0


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (b"MZ\x90\x00 not a picture", None, "only photos"),
        (b"", 500 * 1024 * 1024, "too large"),
    ],
)
def test_refused_file_is_explained_and_not_stored(
    setup: Setup, data: bytes, declared: int | None, expected: str
) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report()[:7])
    defender.send(attachment=Attachment(data, "image/jpeg", "x.jpg", declared_size=declared))
    assert expected in defender.text
    assert count(setup, AttachmentRow) == 0
    assert "skip" in defender.choices  # still at the files step


def test_cancel_destroys_the_drafts_files(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report()[:7])
    defender.send(attachment=Attachment(exif_photo(), "image/jpeg"))
    assert count(setup, AttachmentRow) == 1
    defender.send("/cancel")
    assert count(setup, AttachmentRow) == 0


def test_idle_draft_is_destroyed_at_next_contact(setup: Setup) -> None:
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report()[:7])
    defender.send(attachment=Attachment(exif_photo(), "image/jpeg"))
    setup.clock.advance(hours=setup.settings.draft_idle_hours + 1)
    defender.send("hello")
    assert count(setup, AttachmentRow) == 0
    assert "threat_report" in defender.choices  # back at the menu


def test_duress_word_wipes_forgets_and_status_knows_nothing(setup: Setup) -> None:
    setup.settings = setup.settings.model_copy(update={"duress_words": ("bluebird",)})
    defender = Defender(setup.service())
    defender.send("/start")
    play(defender, threat_report())
    reference = defender.reference()
    defender.send("Bluebird")
    assert defender.wiped
    # The conversation record is destroyed (crypto-shredded with its row)...
    with setup.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
    # ...and whoever holds the phone learns nothing from /status, even with the reference.
    defender.send("/status")
    assert reference not in defender.text
    defender.send(f"/status {reference}")
    assert reference not in defender.text and "Received" not in defender.text


def test_first_contact_notice_is_shown_once_per_channel(setup: Setup) -> None:
    defender = Defender(setup.service(), channel="telegram")
    defender.send("/start")
    assert "not end-to-end encrypted" in defender.text
    defender.send("/help")
    assert "not end-to-end encrypted" not in defender.text


def test_a_broken_message_does_not_block_the_batch(setup: Setup) -> None:
    # Given routing that cannot place a Brazilian case (no fallback)...
    routing = setup.settings.routing.model_copy(update={"fallback": None})
    setup.settings = setup.settings.model_copy(update={"routing": routing})
    service = setup.service()
    stuck = Defender(service, sender="stuck")
    stuck.send("/start")
    play(stuck, threat_report("Brazil")[:-1])
    other = Defender(service, sender="other")
    before = count(setup, ProcessedMessage)
    # ...a batch with the confirmation between two other messages...
    replies = service.handle_batch(
        [
            Inbound("console", "other", "c2", "x-1", text="/start"),
            Inbound("console", "stuck", "c1", "x-2", choice="confirm"),
            Inbound("console", "other", "c2", "x-3", choice="threat_report"),
        ]
    )
    # ...records all three: the broken one with an apology, the others as usual.
    assert count(setup, ProcessedMessage) == before + 3
    assert "something went wrong" in replies[1][0].text  # type: ignore[union-attr]
    assert any("yes" in [c.value for c in r.choices] for r in replies[2] if isinstance(r, Reply))
    assert count(setup, Case) == 0
    other.send(choice="yes")
    assert "country" in other.text.lower()
