"""A fake signal-cli JSON-RPC daemon on a Unix socket or TCP on 127.0.0.1, owned by the tests.

Usage::

    with FakeSignal(tmp_path / "attachments") as sig:          # or transport="tcp"
        # the product connects with HRD_INTAKE_SIGNAL_RPC=sig.rpc_spec
        stamp = sig.inject("aci-1", text="/start")            # a defender writes
        sig.wait_for(lambda s: stamp in s.read_receipts("aci-1"))
        sig.texts("aci-1")                                     # what the bot sent, not deleted
        sig.fail_next("send", code=-3, message="...")         # one error reply
        sig.set_fault("unregistered")                          # every call refused, until None

It speaks what signal-cli 0.13/0.14 speaks in `daemon --socket|--tcp --receive-mode manual`
(see `man signal-cli-jsonrpc`): one JSON-RPC 2.0 object per line; `subscribeReceive`
answers a subscription id, after which envelopes come as
``{"method":"receive","params":{"subscription":N,"result":{"envelope":...,"account":...}}}``;
`send` answers ``{"timestamp":T,"results":[...]}``; errors are
``{"error":{"code":C,"message":M,"data":D},"id":...}`` with signal-cli's codes (-32601
unknown method, -32602 invalid params, -1 user error, -3 I/O error, -5 rate limit).

Like signal-cli (lib/.../ReceiveHelper.java), a message leaves the fake's keeping once it is
written to a subscribed connection: signal-cli acknowledges it to Signal's server, writes
the notification, and deletes it from its own message cache. A connection that dies with
the notification unread loses it (`lost_with` tells which). Messages that arrive while no
connection is subscribed wait (as they wait on Signal's server in manual mode).
Attachments are written to `attachments` under their id, as signal-cli does.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

JSON = dict[str, Any]

FAULTS: dict[str, tuple[int, str]] = {
    # What signal-cli answers when its account is gone or the server refuses its version.
    "unregistered": (-1, "User +15550100 is not registered."),
    "outdated": (-3, "signal-cli version is too old for the Signal-Server, please update."),
    "rate_limited": (-5, "Failed to send message due to rate limiting"),
}


@dataclass
class Sent:
    """One message the bot sent (to a defender's ACI or a group id)."""

    recipient: str
    timestamp: int
    text: str
    deleted: bool = False


@dataclass
class _Conn:
    sock: socket.socket
    lock: threading.Lock = field(default_factory=threading.Lock)
    subscription: int | None = None
    written: list[JSON] = field(default_factory=list)
    alive: bool = True


class FakeSignal:
    """The fake daemon; see the module docstring. Public methods are thread-safe."""

    def __init__(
        self,
        attachments: Path,
        *,
        transport: str = "unix",
        account: str = "+15550100",
        socket_path: Path | None = None,
    ) -> None:
        self.attachments, self.transport, self.account = attachments, transport, account
        attachments.mkdir(parents=True, exist_ok=True)
        # sun_path holds about 107 bytes: pytest's tmp_path can be longer.
        self._socket_path = socket_path or Path(tempfile.mkdtemp(prefix="sig")) / "socket"
        self._port = 0
        self._cond = threading.Condition()
        self._clock = itertools.count(int(time.time() * 1000))
        self._subscriptions = itertools.count(0)
        self._queue: list[JSON] = []  # envelopes waiting for a subscribed connection
        self._conns: list[_Conn] = []
        self._all_conns: list[_Conn] = []
        self._server: socket.socket | None = None
        self.calls: list[tuple[str, JSON]] = []
        self.sent: list[Sent] = []
        self.receipts: list[tuple[str, str, int]] = []  # (recipient, type, target timestamp)
        self.expirations: dict[str, int] = {}
        self._faults: dict[str, list[tuple[int, str]]] = {}
        self._fault: str | None = None
        self._delays: dict[str, float] = {}
        self.subscribed_total = 0
        self.errors: list[str] = []

    # -- lifecycle ---------------------------------------------------------------

    @property
    def rpc_spec(self) -> str:
        if self.transport == "unix":
            return f"unix:{self._socket_path}"
        return f"tcp:127.0.0.1:{self._port}"

    def start(self) -> FakeSignal:
        if self.transport == "unix":
            with suppress(FileNotFoundError):
                self._socket_path.unlink()
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(self._socket_path))
        else:
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("127.0.0.1", self._port))
            self._port = server.getsockname()[1]
        server.listen(16)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()
        return self

    def stop(self) -> None:
        """The daemon goes away: its socket closes, every connection drops."""
        server, self._server = self._server, None
        if server is not None:
            with suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
            with suppress(OSError):
                server.close()
        with self._cond:
            conns, self._conns = self._conns, []
        for conn in conns:
            self._drop(conn)
        if self.transport == "unix":
            with suppress(FileNotFoundError):
                self._socket_path.unlink()

    def restart(self, redeliver: int = 0) -> None:
        """Stop and start again (same port); `redeliver` last written envelopes come again.

        signal-cli killed between writing a notification and deleting it from its message
        cache hands the same envelope (same timestamp) over again after its restart.
        """
        with self._cond:
            written = [env for conn in self._conns for env in conn.written]
        self.stop()
        with self._cond:
            self._queue[:0] = written[len(written) - redeliver :] if redeliver else []
        self.start()

    def __enter__(self) -> FakeSignal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the defenders' side ---------------------------------------------------------

    def inject(
        self,
        sender: str,
        text: str | None = None,
        *,
        number: str | None = None,
        attachments: list[tuple[bytes, str, str | None]] = (),  # type: ignore[assignment]
        group: str | None = None,
        kind: str = "data",
        timestamp: int | None = None,
        received: int | None = None,
    ) -> int:
        """A defender's message (`kind`: data, edit, sticker, receipt, typing); its timestamp.

        `timestamp` is the sender's (their phone's clock: Signal's id of the message);
        `received` is when Signal's server got it, in ms (its clock: now, unless given).
        """
        stamp = timestamp if timestamp is not None else next(self._clock)
        received = received if received is not None else int(time.time() * 1000)
        envelope: JSON = {
            "source": number or sender,
            "sourceNumber": number,
            "sourceUuid": sender,
            "sourceName": "Defender",
            "sourceDevice": 1,
            "timestamp": stamp,
            "serverReceivedTimestamp": received,
            "serverDeliveredTimestamp": received + 4,
        }
        data: JSON = {"timestamp": stamp, "message": text, "expiresInSeconds": 0, "viewOnce": False}
        if attachments:
            data["attachments"] = [self._store(*a) for a in attachments]
        if group is not None:
            data["groupInfo"] = {"groupId": group, "type": "DELIVER"}
        if kind == "data":
            envelope["dataMessage"] = data
        elif kind == "edit":
            envelope["editMessage"] = {"targetSentTimestamp": stamp - 1, "dataMessage": data}
        elif kind == "sticker":
            envelope["dataMessage"] = data | {
                "message": None,
                "sticker": {"packId": "p", "stickerId": 1},
            }
        elif kind == "receipt":
            envelope["receiptMessage"] = {"when": stamp, "isDelivery": True, "timestamps": [1]}
        elif kind == "typing":
            envelope["typingMessage"] = {"action": "STARTED", "timestamp": stamp}
        with self._cond:
            self._queue.append(envelope)
            self._cond.notify_all()
        return stamp

    def _store(self, data: bytes, content_type: str, filename: str | None) -> JSON:
        attachment_id = f"{os.urandom(10).hex()}.{content_type.rsplit('/', 1)[-1]}"
        (self.attachments / attachment_id).write_bytes(data)
        return {
            "contentType": content_type,
            "filename": filename,
            "id": attachment_id,
            "size": len(data),
            "width": None,
            "height": None,
            "caption": None,
            "uploadTimestamp": None,
        }

    # -- what the bot did ------------------------------------------------------------

    def calls_to(self, method: str) -> list[JSON]:
        with self._cond:
            return [params for name, params in self.calls if name == method]

    def texts(self, recipient: str) -> list[str]:
        """The bot's messages still in the chat (not remote-deleted)."""
        with self._cond:
            return [s.text for s in self.sent if s.recipient == recipient and not s.deleted]

    def sent_to(self, recipient: str) -> list[Sent]:
        with self._cond:
            return [s for s in self.sent if s.recipient == recipient]

    def read_receipts(self, recipient: str) -> set[int]:
        with self._cond:
            return {t for r, kind, t in self.receipts if r == recipient and kind == "read"}

    def written_since(self, index: int) -> list[JSON]:
        """Envelopes written to connections from number `index` on (in order of connecting)."""
        with self._cond:
            return [env for conn in self._all_conns[index:] for env in conn.written]

    def where(self, stamp: int) -> list[int]:
        """The connections an envelope was written to (debugging)."""
        with self._cond:
            return [
                i
                for i, c in enumerate(self._all_conns)
                if any(e["timestamp"] == stamp for e in c.written)
            ]

    @property
    def connections(self) -> int:
        with self._cond:
            return len(self._all_conns)

    @property
    def live_connections(self) -> int:
        """Connections not yet seen closed: a killed client's stay live until its EOF is read."""
        with self._cond:
            return len(self._conns)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def fail_next(self, method: str, code: int = -3, message: str = "Failed: I/O error") -> None:
        with self._cond:
            self._faults.setdefault(method, []).append((code, message))

    def delay(self, method: str, seconds: float) -> None:
        """Answer `method` only after `seconds` (a slow Signal server)."""
        with self._cond:
            self._delays[method] = seconds

    def set_fault(self, fault: str | None) -> None:
        """`unregistered`, `outdated` or `rate_limited`: every call refused; None: healthy."""
        with self._cond:
            self._fault = fault

    def wait_for(
        self, predicate: Callable[[FakeSignal], Any], timeout: float = 10.0, message: str = ""
    ) -> Any:
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if time.monotonic() > deadline:
                calls = [f"{m} {sorted(p)}" for m, p in self.calls[-8:]]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {message or predicate}; "
                    f"last calls: {calls}; fake errors: {self.errors}"
                )
            time.sleep(0.02)
        return value

    # -- the daemon ------------------------------------------------------------------

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                sock, _ = server.accept()
            except OSError:
                return
            if self.transport == "tcp":
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock)
            with self._cond:
                self._conns.append(conn)
                self._all_conns.append(conn)
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()
            threading.Thread(target=self._push, args=(conn,), daemon=True).start()

    def _drop(self, conn: _Conn) -> None:
        with self._cond:
            conn.alive = False
            if conn in self._conns:
                self._conns.remove(conn)
            self._cond.notify_all()
        with suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        with suppress(OSError):
            conn.sock.close()

    def _write(self, conn: _Conn, message: JSON) -> None:
        data = (json.dumps(message, separators=(",", ":")) + "\n").encode()
        with conn.lock:
            conn.sock.sendall(data)

    def _read(self, conn: _Conn) -> None:
        reader = conn.sock.makefile("rb")
        try:
            for line in reader:
                if line.strip():
                    self._write(conn, self._answer(conn, line))
        except OSError:
            pass
        except Exception as exc:  # noqa: BLE001 - recorded for the test to see
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._drop(conn)

    def _push(self, conn: _Conn) -> None:
        """Hand waiting envelopes to this connection once it is subscribed."""
        while True:
            with self._cond:
                while conn.alive and (conn.subscription is None or not self._queue):
                    self._cond.wait(0.5)
                if not conn.alive:
                    return
                envelope = self._queue.pop(0)
                conn.written.append(envelope)  # from here on, signal-cli has let go of it
            note = {
                "jsonrpc": "2.0",
                "method": "receive",
                "params": {
                    "subscription": conn.subscription,
                    "result": {"envelope": envelope, "account": self.account},
                },
            }
            try:
                self._write(conn, note)
            except OSError:
                return

    def _answer(self, conn: _Conn, line: bytes) -> JSON:
        try:
            request = json.loads(line)
        except ValueError:
            return _error(None, -32700, "Parse error")
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return _error(None, -32600, "method field must be set")
        method, rid = request["method"], request.get("id")
        params = request.get("params") or {}
        with self._cond:
            self.calls.append((method, params))
            queued = self._faults.get(method)
            fault = queued.pop(0) if queued else FAULTS.get(self._fault or "")
            delay = self._delays.get(method, 0.0)
        if delay:
            time.sleep(delay)
        if fault is not None and method != "version":
            return _error(rid, *fault)
        handler = getattr(self, f"_rpc_{method}", None)
        if handler is None:
            return _error(rid, -32601, "Method not implemented")
        try:
            return {"jsonrpc": "2.0", "result": handler(conn, params), "id": rid}
        except _RpcError as exc:
            return _error(rid, exc.code, exc.message)

    # -- methods ---------------------------------------------------------------------

    def _rpc_version(self, conn: _Conn, params: JSON) -> JSON:
        return {"version": "0.14.6"}

    def _rpc_subscribeReceive(self, conn: _Conn, params: JSON) -> int:
        with self._cond:
            conn.subscription = next(self._subscriptions)
            self.subscribed_total += 1
            self._cond.notify_all()
            return conn.subscription

    def _rpc_unsubscribeReceive(self, conn: _Conn, params: JSON) -> None:
        with self._cond:
            conn.subscription = None

    def _rpc_send(self, conn: _Conn, params: JSON) -> JSON:
        text = params.get("message")
        recipients = _listed(params.get("recipient")) + _listed(params.get("groupId"))
        if not isinstance(text, str) or len(recipients) != 1:
            raise _RpcError(-32602, "Invalid params: one recipient and a message")
        stamp = next(self._clock)
        with self._cond:
            self.sent.append(Sent(recipients[0], stamp, text))
        return {
            "timestamp": stamp,
            "results": [{"recipientAddress": {"uuid": recipients[0]}, "type": "SUCCESS"}],
        }

    def _rpc_sendReceipt(self, conn: _Conn, params: JSON) -> JSON:
        recipient, stamps = params.get("recipient"), _listed(params.get("targetTimestamp"))
        if not isinstance(recipient, str) or not stamps:
            raise _RpcError(-32602, "Invalid params: recipient and targetTimestamp")
        with self._cond:
            kind = str(params.get("type", "read"))
            self.receipts.extend((recipient, kind, int(t)) for t in stamps)
        return {"timestamp": next(self._clock), "results": []}

    def _rpc_updateContact(self, conn: _Conn, params: JSON) -> JSON:
        recipient, expiration = params.get("recipient"), params.get("expiration")
        if not isinstance(recipient, str):
            raise _RpcError(-32602, "Invalid params: recipient")
        if expiration is not None:
            with self._cond:
                self.expirations[recipient] = int(expiration)
        return {}

    def _rpc_remoteDelete(self, conn: _Conn, params: JSON) -> JSON:
        target = params.get("targetTimestamp")
        recipients = _listed(params.get("recipient"))
        if not isinstance(target, int) or len(recipients) != 1:
            raise _RpcError(-32602, "Invalid params: targetTimestamp and one recipient")
        with self._cond:
            for sent in self.sent:
                if sent.recipient == recipients[0] and sent.timestamp == target:
                    sent.deleted = True
        return {"timestamp": next(self._clock), "results": []}


class _RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _error(rid: object, code: int, message: str) -> JSON:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message, "data": None}, "id": rid}


def _listed(value: object) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
