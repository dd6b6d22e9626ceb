"""A defender on Element's crypto stack (matrix-js-sdk + Rust crypto) for the Matrix tests.

`tests/support/element/` holds a Node script and its locked dependencies
(matrix-js-sdk 37.5 with `@matrix-org/matrix-sdk-crypto-wasm`). They are
installed with `npm ci` once into a cache folder (`<repo>/.cache/element-defender`
unless `HRD_TEST_ELEMENT_DIR` names another); changing the lock reinstalls.

    folder = ensure_installed()              # or skip_reason() first
    async with ElementDefender.start(folder, synapse, user_id, password) as element:
        room = await element.create_dm(bot_id)
        reply = await element.say(room, "hello", expect="What would you like to do?")

The script logs in, bootstraps cross-signing (user-interactive auth by
password), sets `OnlySignedDevicesIsolationMode`, syncs, and reports every
message it decrypts (and every one it cannot) as JSON lines.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.synapse import REPO_ROOT, Synapse

SOURCE = Path(__file__).with_name("element")
FILES = ("package.json", "package-lock.json", "defender.mjs")
_STAMP = ".hrd-element-stamp"


def default_dir() -> Path:
    env = os.environ.get("HRD_TEST_ELEMENT_DIR")
    return Path(env).expanduser().resolve() if env else REPO_ROOT / ".cache" / "element-defender"


def _stamp_text() -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update((SOURCE / name).read_bytes())
    return digest.hexdigest() + "\n"


def ensure_installed(folder: Path | None = None) -> Path:
    """Copy the script and its lock into `folder` and `npm ci` there (once); return it.

    Raises:
        RuntimeError: node or npm missing, or `npm ci` failed.
    """
    folder = (folder or default_dir()).resolve()
    folder.parent.mkdir(parents=True, exist_ok=True)
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed")
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = folder / _STAMP
        if stamp.is_file() and stamp.read_text() == _stamp_text():
            return folder
        folder.mkdir(exist_ok=True)
        for name in FILES:
            shutil.copyfile(SOURCE / name, folder / name)
        result = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"npm ci failed:\n{(result.stdout + result.stderr)[-3000:]}")
        stamp.write_text(_stamp_text())
        return folder


@functools.cache
def skip_reason() -> str | None:
    """Why the Element defender cannot run here; None when it can (installs it)."""
    try:
        ensure_installed()
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        return f"cannot install the Element-stack defender: {exc}"
    return None


@dataclass
class ElementMessage:
    room: str
    sender: str
    body: str
    msgtype: str
    event_id: str


@dataclass
class ElementDefender:
    """The Node process; each call is one request answered by one line."""

    process: asyncio.subprocess.Process
    user_id: str
    received: list[ElementMessage] = field(default_factory=list)
    # When each message reached this process (time.perf_counter), for bench/matrix.py.
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    undecryptable: list[dict[str, Any]] = field(default_factory=list)
    invites: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _next_id: int = 0
    _waiting: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _reader: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    @asynccontextmanager
    async def start(
        cls, folder: Path, synapse: Synapse, user_id: str, password: str
    ) -> AsyncIterator[ElementDefender]:
        process = await asyncio.create_subprocess_exec(
            "node",
            str(folder / "defender.mjs"),
            cwd=folder,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=sys.stderr,
            limit=16 * 1024 * 1024,
        )
        defender = cls(process, user_id)
        defender._reader = asyncio.create_task(defender._read())
        try:
            await defender.call(
                "login", base_url=synapse.base_url, user_id=user_id, password=password, timeout=120
            )
            yield defender
        finally:
            await defender.close()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "id" in message:
                future = self._waiting.pop(int(message["id"]), None)
                if future is not None and not future.done():
                    future.set_result(message)
                continue
            kind = message.get("event")
            if kind == "message":
                fields = ("room", "sender", "body", "msgtype", "event_id")
                self.received.append(ElementMessage(*(str(message[f]) for f in fields)))
                self.arrivals.append((str(message["room"]), time.perf_counter()))
            elif kind == "undecryptable":
                self.undecryptable.append(message)
            elif kind == "invite":
                self.invites.append(str(message["room"]))
            elif kind == "error":
                self.errors.append(str(message.get("error")))
            self._changed.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(RuntimeError("the Element defender exited"))

    async def call(self, cmd: str, timeout: float = 60, **args: Any) -> dict[str, Any]:
        """Send one command; its answer, or AssertionError with the script's error."""
        assert self.process.stdin is not None
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next_id] = future
        self.process.stdin.write(json.dumps({"id": self._next_id, "cmd": cmd, **args}).encode())
        self.process.stdin.write(b"\n")
        await self.process.stdin.drain()
        answer = await asyncio.wait_for(future, timeout)
        if "error" in answer:
            raise AssertionError(f"element {cmd}: {answer['error']}")
        return answer

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                await self.call("stop", timeout=10)
            except (AssertionError, RuntimeError, TimeoutError, BrokenPipeError, ConnectionError):
                pass
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await self._reader

    # -- conversation ------------------------------------------------------------

    async def wait(self, condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.returncode is not None:
                raise AssertionError(
                    f"timed out waiting for {what or condition}; "
                    f"undecryptable: {self.undecryptable[-3:]}, errors: {self.errors[-3:]}"
                )
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(remaining, 1.0))
            except TimeoutError:
                pass

    def bodies(self, room: str) -> list[str]:
        return [m.body for m in self.received if m.room == room]

    async def create_dm(self, bot_id: str) -> str:
        room = str((await self.call("create_dm", invite=bot_id))["room"])
        deadline = time.monotonic() + 60
        while bot_id not in (await self.call("members", room=room))["joined"]:
            if time.monotonic() > deadline:
                raise AssertionError("the bot never joined")
            await asyncio.sleep(0.2)
        return room

    async def send_text(self, room: str, text: str) -> str:
        return str((await self.call("send_text", room=room, text=text))["event_id"])

    async def send_image(self, room: str, path: Path, name: str = "photo.jpg") -> str:
        answer = await self.call(
            "send_image", room=room, path=str(path), name=name, mimetype="image/jpeg"
        )
        return str(answer["event_id"])

    async def say(self, room: str, text: str, expect: str | None = None, timeout: float = 60) -> str:
        """Send `text` and wait for the bot's next message (containing `expect`); return it."""
        before = len(self.bodies(room))
        await self.send_text(room, text)

        def answered() -> bool:
            return any(expect is None or expect in body for body in self.bodies(room)[before:])

        await self.wait(answered, timeout, what=f"an answer to {text!r}")
        return self.bodies(room)[-1]
