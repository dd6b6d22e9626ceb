"""End to end: the real python-telegram-bot stack, the channel and the core, on both databases."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from PIL import ExifTags, Image

from intake.triage.queue import list_cases, open_case
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup

REFERENCE = re.compile(r"HRD-[0-9A-Z]{4}-[0-9A-Z]{4}")
NOT_E2E = "not end-to-end encrypted"


def gps_photo() -> bytes:
    """A JPEG whose EXIF carries a GPS position (Nairobi)."""
    exif = Image.Exif()
    exif[ExifTags.IFD.GPSInfo] = {1: "S", 2: (1.0, 17.0, 0.0), 3: "E", 4: (36.0, 49.0, 0.0)}
    exif[ExifTags.Base.Model] = "Camera-SN-123456"
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "red").save(buffer, "JPEG", exif=exif)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    return data


def submitted_reference(defender: TelegramDefender) -> tuple[str, int]:
    """The case reference the bot gave, and the id of the message that says it."""
    for message in reversed(defender.fake.sent_messages(defender.chat_id)):
        found = REFERENCE.search(message.get("text", ""))
        if found:
            return found[0], message["message_id"]
    raise AssertionError(f"no case reference in {defender.texts()}")


def assert_wiped_before(fake: FakeTelegram, chat_id: int, keep: int, since: int = 0) -> None:
    """Every message of the chat between `since` and `keep` (exclusive) was deleted."""
    expected = set(range(since + 1, keep))
    missing = expected - fake.deleted(chat_id)
    assert not missing, f"messages left in the chat: {sorted(missing)}"


def test_threat_report_and_assistance_request_end_to_end(
    setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(5150, "defender_e2e")
    with telegram_run(setup):
        # Given a first contact: the safety notice, once.
        me.say("/start")
        me.say("/start")
        assert sum(NOT_E2E in text for text in me.texts()) == 1

        # When the defender files a threat report with buttons and a photo with GPS EXIF.
        me.press("threat_report")
        me.press("yes")
        me.say("Kenya")
        me.press("me")
        me.press("intimidation")
        me.press("harassment")
        me.press("done")
        me.press("ongoing")
        me.say("They followed me home after the hearing.")
        photo_update = me.send(photo=gps_photo())
        assert "1" in me.last_text()  # one file received
        me.press("done")
        me.press("immediate")
        me.say("Signal, evenings")
        me.press("confidential")
        me.press("no")
        me.press("confirm")
        first_ref, first_ref_message = submitted_reference(me)

        # Then the conversation is gone from the chat, but for the reference.
        photo_message = tg.update(photo_update)["message"]["message_id"]
        assert photo_message in tg.deleted(me.chat_id)
        assert_wiped_before(tg, me.chat_id, keep=first_ref_message)
        assert first_ref_message not in tg.deleted(me.chat_id)

        # When they then ask for legal aid in Ukraine.
        me.press("assistance_request")
        me.press("yes")  # consent
        me.press("legal_aid")
        me.say("Ukraine")
        me.press("days")
        me.say("Wire, weekday mornings")
        me.press("private_authorities")
        me.press("yes")
        me.press("confirm")
        second_ref, second_ref_message = submitted_reference(me)
        assert second_ref != first_ref
        assert_wiped_before(tg, me.chat_id, keep=second_ref_message, since=first_ref_message)

    # Then both cases wait in the right mission queues.
    with setup.sessions() as session:
        cases = {case.reference: case for case in list_cases(session)}
        assert cases[first_ref].mission == "eu-del-ke"
        assert cases[first_ref].kind == "threat_report"
        assert cases[second_ref].mission == "eu-del-ua"
        assert cases[second_ref].kind == "assistance_request"
        report = open_case(session, setup.cipher, first_ref, setup.recovery)
    # And the stored photo carries no EXIF, no GPS, no camera serial.
    assert len(report.attachments) == 1
    stored = report.attachments[0].data
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Camera-SN-123456" not in stored and b"Exif" not in stored
    assert tg.errors == []
