"""The Matrix channel's logic without a homeserver: events, rendering, trust, state, config."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import nio
import pytest
from nio.store import SqliteStore
from pydantic import SecretStr

from bots.matrix import trust
from bots.matrix.channel import MatrixChannel, MatrixConfig, MatrixSetupError, build_matrix
from bots.matrix.client import ScrubIdentifiers, scrub
from bots.matrix.events import (
    EventId,
    Ignore,
    Media,
    Plaintext,
    RoomId,
    Text,
    Undecrypted,
    Unsupported,
    classify,
    decode_trace,
    encode_trace,
    render,
    strip_reply_fallback,
)
from bots.matrix.state import MatrixState, SessionRecord
from intake.config import MatrixSettings
from intake.messages import Choice, Reply
from intake.storage.channel_state import ChannelStateStore
from tests.support.setup import Setup


def _message(content: dict[str, Any], event_type: str = "m.room.message") -> dict[str, Any]:
    return {"type": event_type, "content": content, "event_id": "$e", "sender": "@d:hs"}


ENCRYPTED_FILE = {
    "url": "mxc://hs/abc",
    "key": {"k": "KEY", "alg": "A256CTR"},
    "hashes": {"sha256": "HASH"},
    "iv": "IV",
    "v": "v2",
}


@pytest.mark.parametrize(
    ("source", "decrypted", "expected"),
    [
        (_message({"msgtype": "m.text", "body": "2"}), True, Text("2")),
        (_message({"msgtype": "m.text", "body": "hi"}), False, Plaintext()),
        (_message({"msgtype": "m.audio", "body": "a"}), True, Unsupported("unsupported")),
        (_message({"msgtype": "m.location", "body": "geo"}), True, Unsupported("unsupported")),
        (
            _message({"body": "s", "url": "mxc://x/y"}, "m.sticker"),
            True,
            Unsupported("unsupported"),
        ),
        (
            _message(
                {
                    "msgtype": "m.text",
                    "body": "* fixed",
                    "m.relates_to": {"rel_type": "m.replace", "event_id": "$x"},
                }
            ),
            True,
            Unsupported("edited"),
        ),
        (_message({"key": "👍"}, "m.reaction"), True, Ignore("not a message")),
        (
            {**_message({"membership": "join"}, "m.room.member"), "state_key": "@d:hs"},
            False,
            Ignore("state"),
        ),
        (_message({}), True, Ignore("redacted")),
        # An unencrypted upload in an encrypted room is refused.
        (
            _message({"msgtype": "m.image", "body": "p.jpg", "url": "mxc://hs/x"}),
            True,
            Unsupported("unsupported"),
        ),
    ],
)
def test_classify(source: dict[str, Any], decrypted: bool, expected: object) -> None:
    assert classify(source, decrypted=decrypted, undecrypted=False) == expected


def test_classify_undecrypted_and_encrypted_media() -> None:
    assert classify({"type": "m.room.encrypted"}, False, undecrypted=True) == Undecrypted()
    content = {
        "msgtype": "m.image",
        "body": "photo.jpg",
        "info": {"mimetype": "image/jpeg", "size": 1234},
        "file": ENCRYPTED_FILE,
    }
    assert classify(_message(content), decrypted=True, undecrypted=False) == Media(
        url="mxc://hs/abc",
        key="KEY",
        sha256="HASH",
        iv="IV",
        media_type="image/jpeg",
        name="photo.jpg",
        declared_size=1234,
    )
    broken = {**content, "file": {"url": "mxc://hs/abc"}}
    assert classify(_message(broken), True, False) == Unsupported("unsupported")


def test_reply_fallback_is_stripped() -> None:
    assert strip_reply_fallback("> <@bot:hs> What would you like?\n\n2") == "2"
    assert strip_reply_fallback("> quoted but no blank line") == "> quoted but no blank line"
    assert strip_reply_fallback("Kenya") == "Kenya"


def test_render_numbers_choices_in_engine_order() -> None:
    body = render(
        [
            Reply("Hello."),
            Reply("What would you like to do?", (Choice("a", "Report"), Choice("b", "Ask"))),
        ]
    )
    assert body == "Hello.\n\nWhat would you like to do?\n1. Report\n2. Ask"


def test_trace_ids_round_trip_and_foreign_ones_are_ignored() -> None:
    trace = encode_trace(RoomId("!r:hs"), EventId("$e"))
    assert decode_trace(trace) == ("!r:hs", "$e")
    assert decode_trace("not json") is None
    assert decode_trace('{"a": 1}') is None


def test_trust_on_first_use_then_new_and_changed_devices() -> None:
    first = trust.assess({}, "@d:hs", {"PHONE": "k1"})
    assert first.first_use and not first.suspicious
    records = trust.updated({}, "@d:hs", {"PHONE": "k1"})
    assert not trust.assess(records, "@d:hs", {"PHONE": "k1"}).suspicious
    added = trust.assess(records, "@d:hs", {"PHONE": "k1", "LAPTOP": "k2"})
    assert added.suspicious and added.added == ("LAPTOP",)
    rekeyed = trust.assess(records, "@d:hs", {"PHONE": "k9"})
    assert rekeyed.suspicious and rekeyed.rekeyed == ("PHONE",)
    assert "PHONE" not in repr(added)  # device ids stay out of logs and reprs


def test_scrub_removes_matrix_identifiers() -> None:
    line = (
        "Received room key from @alice:example.org device ABCDEFGHIJ in !room:example.org "
        "event $0123456789abcdefghijklmn token syt_YWxpY2U_abc_123 key " + "A" * 43
    )
    scrubbed = scrub(line)
    for secret in ("@alice", "ABCDEFGHIJ", "!room", "$0123", "syt_", "A" * 43):
        assert secret not in scrubbed
    record = logging.LogRecord("nio.x", logging.WARNING, "f", 1, "user %s", ("@a:b",), None)
    ScrubIdentifiers().filter(record)
    assert record.getMessage() == "user <id>"


def test_state_round_trips_sealed(primary_setup: Setup) -> None:
    setup = primary_setup
    store = ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock)
    state = MatrixState(store)
    assert state.session() is None and state.sync_token() is None
    key = state.pickle_key()
    assert len(bytes.fromhex(key)) == 32 and state.pickle_key() == key
    state.save_session(SessionRecord("@bot:hs", "DEVICE", "syt_secret"))
    state.save_sync_token("s1_2")
    state.save_trusted_devices({"@d:hs": {"PHONE": "k1"}})
    assert MatrixState(store).session() == SessionRecord("@bot:hs", "DEVICE", "syt_secret")
    assert "syt_secret" not in repr(state.session())
    assert MatrixState(store).sync_token() == "s1_2"
    assert MatrixState(store).trusted_devices() == {"@d:hs": {"PHONE": "k1"}}
    state.forget_session()
    assert state.session() is None and state.sync_token() is None


@pytest.mark.parametrize(
    ("homeserver", "user", "problem"),
    [
        (None, "@bot:hs", "HOMESERVER"),
        ("https://hs", None, "USER"),
        ("ftp://hs", "@bot:hs", r"http\(s\) URL"),
        ("http://matrix.example.org", "@bot:hs", "https"),
    ],
)
def test_build_refuses_bad_settings(
    primary_setup: Setup, tmp_path: Path, homeserver: str | None, user: str | None, problem: str
) -> None:
    matrix = MatrixSettings(
        homeserver=homeserver, user=user, password=SecretStr("pw"), store=tmp_path / "store"
    )
    settings = primary_setup.settings.model_copy(update={"matrix": matrix})
    store = ChannelStateStore(
        "matrix", primary_setup.sessions, primary_setup.cipher, primary_setup.clock
    )
    with pytest.raises(MatrixSetupError, match=problem):
        build_matrix(settings, primary_setup.service(), store)


def test_the_encryption_store_does_not_open_without_its_key(
    primary_setup: Setup, tmp_path: Path
) -> None:
    # Given a saved session whose nio store was pickled under another key,
    setup = primary_setup
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    other = nio.AsyncClient(
        "http://127.0.0.1:9",
        "@bot:hs",
        store_path=str(store_dir),
        config=nio.AsyncClientConfig(store=SqliteStore, pickle_key="another key"),
    )
    other.restore_login("@bot:hs", "DEVICE", "token")
    state_store = ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock)
    MatrixState(state_store).save_session(SessionRecord("@bot:hs", "DEVICE", "token"))
    config = MatrixConfig("http://127.0.0.1:9", "@bot:hs", None, store_dir)
    channel = MatrixChannel(config, setup.service(), state_store)
    # When the channel starts, it refuses with a sentence instead of starting blind.
    with pytest.raises(MatrixSetupError, match="does not open with the saved key"):
        asyncio.run(channel.run(asyncio.Event()))
    assert store_dir.stat().st_mode & 0o077 == 0
