"""End to end: the Signal channel and the core against the fake signal-cli daemon, both databases."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import replace

import pytest
from PIL import ExifTags, Image

from intake.triage.queue import list_cases, open_case
from tests.bots.signal.conftest import RunSignal, SignalDefender
from tests.bots.telegram.test_e2e import gps_photo
from tests.support.fake_signal import FakeSignal
from tests.support.setup import Setup

REFERENCE = re.compile(r"HRD-[0-9A-Z]{4}-[0-9A-Z]{4}")
TIMER = "disappearing messages"


def reference_in(texts: list[str]) -> str:
    for text in reversed(texts):
        found = REFERENCE.search(text)
        if found:
            return found[0]
    raise AssertionError(f"no case reference in {texts}")


@pytest.mark.parametrize("signal_fake", ["unix", "tcp"], indirect=True)
def test_threat_report_and_assistance_request_end_to_end(
    setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    sig, me = signal_fake, signal_defender(setup)
    with signal_run(setup):
        # Given a first contact: the timer is set before any reply, and the notice says so.
        me.say("/start")
        me.say("/start")
        assert sig.expirations == {me.aci: 86400}
        assert len(sig.calls_to("updateContact")) == 1
        assert sum(TIMER in text for text in me.texts()) == 1
        assert "1. " in me.last_text()  # choices are numbered

        # When the defender files a threat report, numbers for choices, and a GPS photo.
        for answer in ["1", "1", "Kenya", "1", "1, 2", "1", "They followed me home."]:
            me.say(answer)
        photo = gps_photo()
        me.send_file(photo, name="IMG_0001.jpg")
        # Then the file left signal-cli's folder at once.
        assert list(sig.attachments.iterdir()) == []
        for answer in ["1", "1", "Signal, evenings", "1", "2", "1"]:
            me.say(answer)
        first = reference_in(me.texts())

        # Then the bot's messages are deleted for everyone, but for the note on how to clear
        # the defender's side, the reference, and the menu.
        left = me.texts()
        assert "press and hold" in left[0]
        assert first in left[1]
        assert len(left) == 3, left
        deleted = [s for s in sig.sent_to(me.aci) if s.deleted]
        assert len(deleted) >= 15
        assert {p["targetTimestamp"] for p in sig.calls_to("remoteDelete")} == {
            s.timestamp for s in deleted
        }

        # When they then ask for legal aid in Ukraine (values typed work as well as numbers).
        for answer in ["assistance_request", "yes", "legal_aid", "Ukraine", "days"]:
            me.say(answer)
        for answer in ["Wire, weekday mornings", "private_authorities", "yes", "confirm"]:
            me.say(answer)
        second = reference_in(me.texts())
        assert second != first
        assert len(sig.calls_to("updateContact")) == 1  # not a first contact any more

    # Then both cases wait in the right mission queues.
    with setup.sessions() as session:
        cases = {case.reference: case for case in list_cases(session)}
        assert (cases[first].mission, cases[first].kind) == ("eu-del-ke", "threat_report")
        assert (cases[second].mission, cases[second].kind) == ("eu-del-ua", "assistance_request")
        report = open_case(session, setup.cipher, first, setup.recovery)
    # And the stored photo carries no EXIF, no GPS, no camera serial.
    assert len(report.attachments) == 1
    stored = report.attachments[0].data
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and not image.getexif()
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Camera-SN-123456" not in stored and b"Exif" not in stored
    assert sig.errors == []


def test_delete_and_the_duress_word_remote_delete_the_bots_messages(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
) -> None:
    settings = primary_setup.settings.model_copy(update={"duress_words": ("bluebird",)})
    setup = replace(primary_setup, settings=settings)
    sig = signal_fake
    alice, bob = signal_defender(setup, "aci-alice"), signal_defender(setup, "aci-bob")
    with signal_run(setup):
        for me, word in [(alice, "/delete"), (bob, "bluebird")]:
            for text in ["/start", "1", "1", "Kenya"]:
                me.say(text)
            sent = len(sig.sent_to(me.aci))
            me.say(word)
            # Then everything the bot had said is deleted for everyone; what is left says
            # how to clear the defender's side, and the question to start again.
            deleted = [s for s in sig.sent_to(me.aci) if s.deleted]
            assert len(deleted) == sent
            assert "press and hold" in me.texts()[0]
