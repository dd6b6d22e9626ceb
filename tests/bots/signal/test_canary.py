"""Canaries: what a defender sent on Signal, and who they are, appear nowhere at rest.

Nowhere: not in the database, its WAL, the logs (DEBUG included), nor in
signal-cli's attachment folder once the bot has taken a file.
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from tests.bots.signal.conftest import RunSignal, SignalDefender
from tests.bots.signal.test_e2e import reference_in
from tests.support.fake_signal import FakeSignal
from tests.support.scan import at_rest, leaks
from tests.support.setup import Setup


def photo_with(comment: str) -> bytes:
    """A PNG whose text chunk carries the canary (re-encoding must drop it)."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", comment)
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), "blue").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def test_text_aci_number_and_file_metadata_are_nowhere_at_rest(
    primary_setup: Setup,
    signal_run: RunSignal,
    signal_fake: FakeSignal,
    signal_defender: Callable[..., SignalDefender],
    debug_log: Callable[..., Path],
) -> None:
    log, started = debug_log(primary_setup.settings.log_path, "text"), time.time()
    tag = secrets.token_hex(6)
    canaries = {
        "text": f"canary-text-{tag}",
        "contact": f"canary-contact-{tag}",
        "aci": f"c0ffee00-{tag[:4]}-4000-8000-{tag}",
        "phone": "+254799123456",
        "file metadata": f"canary-exif-{tag}",
        "file name": f"canary-name-{tag}.png",
    }
    sig = signal_fake
    me = signal_defender(primary_setup, canaries["aci"])
    with signal_run(primary_setup):
        me.fake.inject(me.aci, "/start", number=canaries["phone"])
        me.fake.wait_for(lambda f: f.texts(me.aci), 15, "an answer")
        for answer in ["1", "1", "Kenya", "1", "1, 2", "1"]:
            me.say(answer)
        me.say(f"They wrote {canaries['text']} on my door.")
        stamp = sig.inject(
            me.aci,
            None,
            attachments=[
                (photo_with(canaries["file metadata"]), "image/png", canaries["file name"])
            ],
        )
        me.settle(stamp)
        for answer in ["1", "1", canaries["contact"], "1", "2", "1"]:
            me.say(answer)
        assert reference_in(me.texts())

    assert "signal" in log.read_text()
    assert list(sig.attachments.iterdir()) == []  # taken and deleted at once
    found = leaks(canaries.values(), at_rest(primary_setup, started, sig.attachments))
    assert found == [], [(next(k for k, v in canaries.items() if v == c), p.name) for c, p in found]
