"""The fake signal-cli daemon speaks signal-cli's documented JSON-RPC (man signal-cli-jsonrpc)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_signal import FakeSignal


class Client:
    """A bare line client, as `echo '{...}' | nc -U socket` would be."""

    def __init__(self, fake: FakeSignal) -> None:
        kind, _, rest = fake.rpc_spec.partition(":")
        if kind == "unix":
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.connect(rest)
        else:
            host, _, port = rest.rpartition(":")
            self.sock = socket.create_connection((host, int(port)))
        self.sock.settimeout(5)
        self.lines = self.sock.makefile("rb")
        self.ids = 0

    def line(self, raw: bytes) -> dict[str, Any]:
        self.sock.sendall(raw + b"\n")
        return dict(json.loads(self.lines.readline()))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.ids += 1
        request: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": self.ids}
        if params:
            request["params"] = params
        return self.line(json.dumps(request).encode())

    def next(self) -> dict[str, Any]:
        return dict(json.loads(self.lines.readline()))


@pytest.fixture(params=["unix", "tcp"])
def fake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeSignal]:
    with FakeSignal(tmp_path / "attachments", transport=request.param) as started:
        yield started


def test_requests_and_errors_have_signal_cli_shapes(fake: FakeSignal) -> None:
    client = Client(fake)
    assert client.call("version")["result"] == {"version": "0.14.6"}
    sent = client.call("send", recipient=["aci-1"], message="hello")
    assert sent["id"] == 2 and isinstance(sent["result"]["timestamp"], int)
    assert sent["result"]["results"][0]["type"] == "SUCCESS"
    assert client.call("nope")["error"]["code"] == -32601
    assert client.line(b"{not json")["error"]["code"] == -32700
    assert client.line(b'{"jsonrpc":"2.0"}')["error"] == {
        "code": -32600,
        "message": "method field must be set",
        "data": None,
    }
    assert client.call("send", message="no recipient")["error"]["code"] == -32602
    fake.fail_next("send", -5, "Failed to send message due to rate limiting")
    assert client.call("send", recipient="aci-1", message="x")["error"]["code"] == -5
    fake.set_fault("outdated")
    assert "too old" in client.call("send", recipient="aci-1", message="x")["error"]["message"]
    fake.set_fault(None)
    stamp = sent["result"]["timestamp"]
    assert client.call("remoteDelete", recipient=["aci-1"], targetTimestamp=stamp)["result"]
    assert fake.texts("aci-1") == [] and fake.sent_to("aci-1")[0].deleted
    client.call("sendReceipt", recipient="aci-1", targetTimestamp=[5, 6], type="read")
    assert fake.read_receipts("aci-1") == {5, 6}
    client.call("updateContact", recipient="aci-1", expiration=3600)
    assert fake.expirations == {"aci-1": 3600}


def test_messages_wait_for_a_subscription_and_are_let_go_once_written(fake: FakeSignal) -> None:
    stamp = fake.inject("aci-1", "before anyone listens", number="+15550199")
    photo = fake.inject("aci-1", None, attachments=[(b"\xff\xd8\xffdata", "image/jpeg", "a.jpg")])
    client = Client(fake)
    assert fake.pending() == 2  # manual receive mode: nothing is received yet
    assert client.call("subscribeReceive")["result"] == 0
    note = client.next()
    assert note["method"] == "receive" and "id" not in note
    envelope = note["params"]["result"]["envelope"]
    assert note["params"]["subscription"] == 0
    assert note["params"]["result"]["account"] == fake.account
    assert envelope["sourceUuid"] == "aci-1" and envelope["sourceNumber"] == "+15550199"
    assert envelope["timestamp"] == stamp
    assert envelope["dataMessage"]["message"] == "before anyone listens"
    attachment = client.next()["params"]["result"]["envelope"]["dataMessage"]["attachments"][0]
    assert (fake.attachments / attachment["id"]).read_bytes() == b"\xff\xd8\xffdata"
    assert attachment["contentType"] == "image/jpeg" and attachment["size"] == 7
    assert photo and fake.pending() == 0
    # Once written, the daemon keeps nothing: a dead client loses it; a restart of the
    # daemon between writing and forgetting hands the last ones over again.
    client.sock.close()
    fake.restart(redeliver=1)
    again = Client(fake)
    again.call("subscribeReceive")
    assert again.next()["params"]["result"]["envelope"]["timestamp"] == photo
