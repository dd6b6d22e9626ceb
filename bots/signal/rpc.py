"""A JSON-RPC 2.0 client for signal-cli's daemon: one JSON object per line, both ways.

    client = await RpcClient.connect(parse_endpoint("unix:/run/signal-cli/socket"))
    await client.call("send", {"recipient": [aci], "message": text})   # -> the result
    note = await client.notifications.get()     # a `receive` notification's params, or None

`HRD_INTAKE_SIGNAL_RPC` is `unix:/path/to/socket` or `tcp:127.0.0.1:7583`; TCP is
refused off loopback (the daemon has no authentication: anyone who reaches it
speaks as the bot).

Errors, drawn once::

    SignalError
    ├── DaemonUnavailable   no socket, connection refused or lost, no answer in time:
    │                       every call in flight fails with it; reconnect
    └── RpcError            the daemon answered with an error (`code`, and a `fault`:
                            "account_unregistered", "client_outdated", "rate_limited",
                            or None); its `message` may quote a phone number or a
                            username, so it is never logged

A line that is not JSON, or neither a response nor a notification, is skipped
(logged by kind only).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DaemonUnavailable",
    "Endpoint",
    "RpcClient",
    "RpcError",
    "SignalError",
    "parse_endpoint",
]

log = logging.getLogger(__name__)

JSONDict = dict[str, Any]
LINE_LIMIT = 16 * 1024 * 1024  # one envelope per line; attachments are files, not inline
LOOPBACK = ("127.0.0.1", "::1", "localhost")

# signal-cli's own words for the faults that need an operator (lower-cased substrings).
_FAULT_WORDS = {
    "account_unregistered": ("not registered", "unregistered", "authorization failed"),
    "client_outdated": ("too old", "outdated", "deprecated", "update signal-cli"),
    "rate_limited": ("rate limit",),
}


class SignalError(Exception):
    """Something between the bot and Signal failed."""


class DaemonUnavailable(SignalError):
    """The daemon cannot be reached, hung up, or did not answer in time."""


class RpcError(SignalError):
    """The daemon answered a call with an error.

    Attributes:
        code: signal-cli's error code (-1 user error, -3 I/O, -5 rate limit, -326xx JSON-RPC).
        fault: what it means for the operator, or None for an ordinary refusal.
    """

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method} refused (code {code})")  # the text may name people
        self.method, self.code, self.message = method, code, message
        self.fault = classify(code, message)


def classify(code: int, message: str) -> str | None:
    """The operator-level fault an error reply names, if any."""
    lowered = message.lower()
    if code == -5:
        return "rate_limited"
    for fault, words in _FAULT_WORDS.items():
        if any(word in lowered for word in words):
            return fault
    return None


@dataclass(frozen=True)
class Endpoint:
    """Where the daemon listens: a Unix socket path, or a loopback TCP port."""

    path: str | None = None
    host: str | None = None
    port: int | None = None

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"tcp:{self.host}:{self.port}"


def parse_endpoint(spec: str) -> Endpoint:
    """`unix:/path` or `tcp:127.0.0.1:7583`.

    Raises:
        ValueError: another form, or TCP off loopback.
    """
    kind, _, rest = spec.strip().partition(":")
    if kind == "unix" and rest:
        return Endpoint(path=rest)
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.strip("[]")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"HRD_INTAKE_SIGNAL_RPC: expected tcp:HOST:PORT, got {spec!r}")
        if host not in LOOPBACK:
            raise ValueError(
                "HRD_INTAKE_SIGNAL_RPC must be on loopback: signal-cli's daemon has no "
                "authentication, so anyone who reaches it sends as the bot"
            )
        return Endpoint(host=host, port=int(port))
    raise ValueError(
        f"HRD_INTAKE_SIGNAL_RPC: expected unix:/path or tcp:127.0.0.1:PORT, got {spec!r}"
    )


class RpcClient:
    """One connection to the daemon; calls may run concurrently (ids match the answers).

    `notifications` gets each `receive` notification's params in order, then
    None once the connection is gone.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._closed = False
        self.notifications: asyncio.Queue[JSONDict | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._read(), name="signal-rpc-reader")

    @classmethod
    async def connect(cls, endpoint: Endpoint, timeout: float = 5.0) -> RpcClient:
        """Raises: DaemonUnavailable."""
        try:
            if endpoint.path is not None:
                opening = asyncio.open_unix_connection(endpoint.path, limit=LINE_LIMIT)
            else:
                opening = asyncio.open_connection(endpoint.host, endpoint.port, limit=LINE_LIMIT)
            reader, writer = await asyncio.wait_for(opening, timeout)
        except (OSError, TimeoutError) as exc:
            raise DaemonUnavailable(f"cannot reach signal-cli ({type(exc).__name__})") from None
        sock = writer.get_extra_info("socket")
        if endpoint.path is None and sock is not None:
            # One small line per call: without this, Nagle's algorithm against the
            # daemon's delayed ACK holds each request back by up to 40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        return self._closed

    async def call(self, method: str, params: JSONDict | None = None, timeout: float = 30.0) -> Any:
        """Send one request and wait for its answer.

        Raises:
            DaemonUnavailable: not connected, hung up, or no answer within `timeout`.
            RpcError: the daemon answered with an error.
        """
        if self._closed:
            raise DaemonUnavailable("the connection to signal-cli is closed")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        request: JSONDict = {"jsonrpc": "2.0", "method": method, "id": request_id}
        if params:
            request["params"] = params
        try:
            self._writer.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            await self._writer.drain()
            response = await asyncio.wait_for(asyncio.shield(future), timeout)
        except (OSError, TimeoutError) as exc:
            raise DaemonUnavailable(f"{method}: no answer ({type(exc).__name__})") from None
        finally:
            self._waiting.pop(request_id, None)
        error = response.get("error")
        if error is not None:
            error = error if isinstance(error, dict) else {}
            code = error.get("code")
            raise RpcError(
                method, code if isinstance(code, int) else 0, str(error.get("message", ""))
            )
        return response.get("result")

    async def close(self) -> None:
        self._closed = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        self._fail_waiting()

    def _fail_waiting(self) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(DaemonUnavailable("signal-cli hung up"))
        self._waiting.clear()

    async def _read(self) -> None:
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                self._dispatch(line)
        except (OSError, ValueError, asyncio.LimitOverrunError):
            log.warning("signal-cli connection broken", extra={"channel": "signal"})
        finally:
            self._closed = True
            self._fail_waiting()
            self.notifications.put_nowait(None)

    def _dispatch(self, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = json.loads(line)
        except ValueError:
            log.warning("signal-cli sent a line that is not JSON", extra={"channel": "signal"})
            return
        if not isinstance(message, dict):
            return
        if "method" in message and "id" not in message:
            if message.get("method") == "receive" and isinstance(message.get("params"), dict):
                self.notifications.put_nowait(message["params"])
            return
        future = self._waiting.get(message.get("id"))  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message)
