"""Reading notifications, endpoints, error classes, rendering and the attachment folder, without I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.signal.envelopes import AttachmentRef, Kind, read_notification
from bots.signal.files import AttachmentFolder
from bots.signal.render import render_reply
from bots.signal.rpc import Endpoint, RpcError, classify, parse_endpoint
from intake.messages import Choice, Reply


def note(envelope: dict[str, object], subscribed: bool = True) -> dict[str, object]:
    body = {"envelope": envelope, "account": "+15550100"}
    return {"subscription": 0, "result": body} if subscribed else body


BASE = {"sourceUuid": "aci-1", "sourceNumber": "+15550123", "timestamp": 1700000000123}


@pytest.mark.parametrize("subscribed", [True, False])
def test_a_text_message_in_either_notification_form(subscribed: bool) -> None:
    envelope = read_notification(note(BASE | {"dataMessage": {"message": "hi"}}, subscribed))
    assert (envelope.kind, envelope.sender, envelope.text) == (Kind.MESSAGE, "aci-1", "hi")
    assert envelope.key == "aci-1:1700000000123"
    assert "aci-1" not in repr(envelope) and "hi" not in repr(envelope)


def test_the_number_only_when_there_is_no_aci() -> None:
    envelope = read_notification(
        note({"sourceNumber": "+15550123", "timestamp": 5, "dataMessage": {"message": "x"}})
    )
    assert envelope.sender == "+15550123"


def test_the_server_receive_time_is_read_apart_from_the_senders_timestamp() -> None:
    # The sender's phone chooses `timestamp`; Signal's server sets the receive time,
    # which is what the rate limit counts by.
    data = {"dataMessage": {"message": "x"}}
    envelope = read_notification(note(BASE | data | {"serverReceivedTimestamp": 1700000009000}))
    assert (envelope.timestamp, envelope.received) == (1700000000123, 1700000009000)
    assert read_notification(note(BASE | {"typingMessage": {}, "serverReceivedTimestamp": 7})).received == 7
    for missing in [{}, {"serverReceivedTimestamp": "1"}, {"serverReceivedTimestamp": True}]:
        assert read_notification(note(BASE | data | missing)).received is None


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ({"message": "x", "groupInfo": {"groupId": "g=="}}, Kind.GROUP),
        ({"message": None, "sticker": {"packId": "p"}}, Kind.UNSUPPORTED),
        ({"message": None, "reaction": {"emoji": "+"}}, Kind.UNSUPPORTED),
        ({"message": None, "viewOnce": True, "attachments": [{"id": "a"}]}, Kind.UNSUPPORTED),
        ({"message": None, "isExpirationUpdate": True, "expiresInSeconds": 60}, Kind.IGNORE),
        ({"message": None}, Kind.UNSUPPORTED),
    ],
)
def test_what_reaches_the_core_and_what_does_not(data: dict[str, object], kind: Kind) -> None:
    assert read_notification(note(BASE | {"dataMessage": data})).kind is kind


def test_receipts_typing_sync_edits_and_garbage() -> None:
    assert read_notification(note(BASE | {"receiptMessage": {"isRead": True}})).kind is Kind.IGNORE
    assert read_notification(note(BASE | {"typingMessage": {}})).kind is Kind.IGNORE
    assert read_notification(note(BASE | {"syncMessage": {"sentMessage": {}}})).kind is Kind.IGNORE
    edit = {"editMessage": {"targetSentTimestamp": 1, "dataMessage": {"message": "y"}}}
    assert read_notification(note(BASE | edit)).unsupported == "edited"
    for junk in [{}, {"result": 3}, note({"timestamp": "x"}), note({"sourceUuid": "a"})]:
        assert read_notification(junk).kind is Kind.IGNORE


def test_attachments_are_read_with_their_size_and_type() -> None:
    data = {
        "message": "caption",
        "attachments": [{"id": "abc.jpg", "contentType": "image/jpeg", "size": 12}, {}],
    }
    envelope = read_notification(note(BASE | {"dataMessage": data}))
    assert envelope.attachments == (AttachmentRef("abc.jpg", "image/jpeg", 12, None),)


def test_endpoints_are_a_socket_or_loopback_tcp() -> None:
    assert parse_endpoint("unix:/run/signal-cli/socket") == Endpoint(path="/run/signal-cli/socket")
    assert parse_endpoint("tcp:127.0.0.1:7583") == Endpoint(host="127.0.0.1", port=7583)
    assert parse_endpoint("tcp:[::1]:7583") == Endpoint(host="::1", port=7583)
    for bad in ["tcp:10.0.0.2:7583", "tcp:0.0.0.0:7583", "http://x", "tcp:127.0.0.1:x", "unix:"]:
        with pytest.raises(ValueError):
            parse_endpoint(bad)


def test_error_replies_are_classified_and_their_text_kept_out_of_the_message() -> None:
    assert classify(-1, "User +15550100 is not registered.") == "account_unregistered"
    assert (
        classify(-3, "signal-cli version is too old for the Signal-Server, please update.")
        == "client_outdated"
    )
    assert classify(-5, "Failed") == "rate_limited"
    assert classify(-1, "Failed to send message") is None
    error = RpcError("send", -1, "Unregistered user +15550123")
    assert "+15550123" not in str(error) and error.fault == "account_unregistered"


def test_choices_are_numbered_with_a_hint() -> None:
    reply = Reply("Which?", (Choice("a", "Apple"), Choice("b", "Pear")), multi=True)
    text = render_reply(reply, lambda key: f"<{key}>")
    assert text == "Which?\n\n1. Apple\n2. Pear\n\n<signal_pick_many>"
    assert render_reply(Reply("Plain"), lambda key: key) == "Plain"


def test_the_folder_gives_files_by_plain_name_only_and_deletes_them(tmp_path: Path) -> None:
    (tmp_path / "inside").mkdir()
    (tmp_path / "secret").write_bytes(b"not yours")
    folder = AttachmentFolder(tmp_path / "inside", max_bytes=10)
    (tmp_path / "inside" / "a.jpg").write_bytes(b"12345")
    (tmp_path / "inside" / "big.jpg").write_bytes(b"x" * 11)
    taken = folder.take(AttachmentRef("a.jpg", "image/jpeg", 5))
    assert taken.data == b"12345"
    big = folder.take(AttachmentRef("big.jpg", "image/jpeg", None))
    assert (big.data, big.declared_size) == (b"", 11)
    escape = folder.take(AttachmentRef("../secret", "image/jpeg", 9))
    assert escape.data == b""
    folder.remove(
        [AttachmentRef(n, "image/jpeg", 1) for n in ("a.jpg", "big.jpg", "../secret", "gone")]
    )
    assert list((tmp_path / "inside").iterdir()) == []
    assert (tmp_path / "secret").exists()


def test_settings_read_the_signal_variables_and_refuse_a_daemon_off_this_machine(
    tmp_path: Path,
) -> None:
    from intake.config import ConfigError, load_settings

    env = {
        "HRD_INTAKE_HOME": str(tmp_path),
        "HRD_INTAKE_SIGNAL_ACCOUNT": "+15550100",
        "HRD_INTAKE_SIGNAL_RPC": "tcp:127.0.0.1:7583",
        "HRD_INTAKE_SIGNAL_ATTACHMENTS": str(tmp_path / "att"),
    }
    signal = load_settings(env).signal
    assert (signal.account, signal.rpc, signal.attachments) == (
        "+15550100",
        "tcp:127.0.0.1:7583",
        tmp_path / "att",
    )
    assert signal.disappearing_seconds == 86400
    for bad in ["tcp:192.168.1.2:7583", "http://127.0.0.1:8080", "unix:"]:
        with pytest.raises(ConfigError, match=r"signal\.rpc"):
            load_settings(env | {"HRD_INTAKE_SIGNAL_RPC": bad})
