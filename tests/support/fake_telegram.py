"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot can talk to.

Usage::

    with FakeTelegram(token="123:ABC") as tg:
        bot = telegram.Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)
        # or run the product in a subprocess with HRD_INTAKE_TELEGRAM_API_URL=tg.api_root
        tg.inject_message(chat_id=42, user_id=42, text="/start")
        msg = tg.wait_for(lambda t: t.sent_messages(42), timeout=10)[-1]
        tg.press(42, 42, "English")               # click an inline button by its label
        tg.fail_next("sendMessage", status=429)   # next sendMessage: 429, retry_after=1

It serves ``/bot<token>/<method>`` and ``/file/bot<token>/<file_path>`` over a real socket, so
it works for in-process bots and bots in subprocesses alike. PTB sends parameters as form
fields (multipart when uploading); non-string values arrive JSON-encoded ("42", "true",
'{"inline_keyboard": ...}') and are decoded here, so recorded params hold ints, bools, dicts.

Behaviour follows Telegram where tests are likely to depend on it: an update offset confirms
and drops older updates for good, message ids are per chat and shared by user and bot
messages, editing without ``reply_markup`` removes the keyboard, an edit that changes nothing
is a 400, the bot can only write to chats that wrote first (``add_chat`` for others, ``block``
makes a chat answer 403), and ``/commands`` carry the ``bot_command`` entity PTB's
CommandHandler needs. Unknown methods answer ``true`` and are recorded.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

JSON = dict[str, Any]
logger = logging.getLogger(__name__)
_API_PATH = re.compile(r"^/bot([^/]+)/([A-Za-z]+)$")
_FILE_PATH = re.compile(r"^/file/bot([^/]+)/(.+)$")
# Form fields that stay strings even when they look like JSON ("123", "true").
_STRING_FIELDS = frozenset(
    "text caption callback_query_id file_id url secret_token parse_mode inline_message_id "
    "business_connection_id description short_description name language_code title".split()
)
_MEDIA: dict[str, tuple[str, str, JSON]] = {  # kind: default mime type, file name, extra fields
    "photo": ("image/jpeg", "photo.jpg", {"width": 1280, "height": 960}),
    "document": ("application/octet-stream", "file.bin", {}),
    "voice": ("audio/ogg", "voice.oga", {"duration": 1}),
    "sticker": (
        "image/webp",
        "sticker.webp",
        {"type": "regular", "width": 512, "height": 512, "is_animated": False, "is_video": False},
    ),
}


class TelegramFault(Exception):
    """An error answer in Telegram's format; raise it inside a method handler."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> TelegramFault:
    return TelegramFault(400, f"Bad Request: {description}")


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


def _read_params(handler: BaseHTTPRequestHandler) -> JSON:
    params: JSON = dict(parse_qsl(urlsplit(handler.path).query))
    raw = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
    ctype = handler.headers.get("Content-Type", "")
    if ctype.startswith("application/json"):
        return {**params, **json.loads(raw or b"{}")}
    if ctype.startswith("multipart/form-data"):
        head = f"Content-Type: {ctype}\r\n\r\n".encode()
        form = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
        for part in form.iter_parts():  # type: ignore[attr-defined]
            name, data = (
                part.get_param("name", header="content-disposition"),
                part.get_payload(decode=True) or b"",
            )
            params[name] = (
                data.decode()
                if part.get_filename() is None
                else (data, part.get_content_type(), part.get_filename())
            )  # an upload
    elif raw:
        params.update(parse_qsl(raw.decode(), keep_blank_values=True))
    return {k: _decode(k, v) for k, v in params.items()}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    server: _Server

    def do_POST(self) -> None:
        self.server.fake._serve(self)

    do_GET = do_POST

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake, self.connections = fake, set[socket.socket]()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Headers and body go out in two sends: without TCP_NODELAY, Nagle's
        # algorithm against the client's delayed ACK stalls every answer ~40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients hanging up mid-poll are normal; errors of the fake are logged in _serve

    def drop_connections(self) -> None:  # so kept-alive connections don't outlive the server
        for conn in list(self.connections):
            with suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class FakeTelegram:
    """The fake server; see the module docstring. Public methods are thread-safe."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "hrd_test_bot",
        max_poll_seconds: float = 10.0,
        strict_chats: bool = True,
    ) -> None:
        self.token, self.max_poll_seconds, self.strict_chats = token, max_poll_seconds, strict_chats
        head = token.split(":")[0]
        self.bot_user: JSON = {
            "id": int(head) if head.isdigit() else 1,
            "is_bot": True,
            "first_name": "HRD Test Bot",
            "username": bot_username,
        }
        self._cond, self._stopping = threading.Condition(), threading.Event()
        self._ids, self._next_update_id, self._confirmed_offset = itertools.count(1), 1, 0
        self._calls: list[tuple[str, JSON]] = []
        self._pending: list[JSON] = []
        self._history: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._last_message_id: dict[int, int] = {}
        self._messages: dict[tuple[int, int], JSON] = {}  # (chat, message id): live messages
        self._deleted: dict[int, set[int]] = {}
        self._blocked: set[int] = set()
        self._files: dict[str, JSON] = {}
        self._file_data: dict[str, bytes] = {}  # by file_path
        self._faults: dict[str, list[TelegramFault]] = {}
        self._delays: dict[str, float] = {}
        self.callback_answers: dict[str, JSON | None] = {}  # query id: answer params
        self.webhook_url = ""
        self.commands: dict[str, Any] = {}  # language_code: setMyCommands list
        self.errors: list[str] = []  # exceptions inside the fake itself
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> FakeTelegram:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            daemon=True,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()  # pending long polls answer [] now
        if self._server is not None:
            self._server.shutdown()
            self._server.drop_connections()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def api_root(self) -> str:
        assert self._server is not None, "FakeTelegram not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.api_root}/file/bot"

    # -- test controls -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = None,
        times: int = 1,
        description: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` ("file" = downloads) with an error."""
        retry_after = 1 if status == 429 and retry_after is None else retry_after
        description = description or {
            429: f"Too Many Requests: retry after {retry_after}",
            400: "Bad Request: injected failure",
            403: "Forbidden: bot was blocked by the user",
        }.get(status, HTTPStatus(status).phrase)
        with self._cond:
            self._faults.setdefault(method.lower(), []).extend(
                TelegramFault(status, description, retry_after) for _ in range(times)
            )

    def delay(self, method: str, seconds: float) -> None:
        """Sleep before answering every call of `method` ("file" = downloads; 0 to stop)."""
        with self._cond:
            self._delays[method.lower()] = seconds

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: sending to this chat now fails with 403."""
        with self._cond:
            self._blocked.add(chat_id)

    def add_chat(self, chat_id: int, chat_type: str = "private", **fields: Any) -> JSON:
        with self._cond:
            chat = self._chats.setdefault(chat_id, {"id": chat_id, "type": chat_type})
            if chat_type != "private":
                chat.setdefault("title", f"Test {chat_type}")
            chat.update(fields)
            return chat

    def add_file(
        self, data: bytes, file_unique_id: str | None = None, *, file_path: str | None = None
    ) -> str:
        """Register bytes the bot can fetch with getFile; returns the file_id."""
        with self._cond:
            n = next(self._ids)
            file_path = file_path or f"documents/file_{n}"
            self._files[f"FILE{n:05d}"] = {
                "file_id": f"FILE{n:05d}",
                "file_size": len(data),
                "file_unique_id": file_unique_id or f"uniq{n:05d}",
                "file_path": file_path,
            }
            self._file_data[file_path] = data
            return f"FILE{n:05d}"

    # -- what the defender does ------------------------------------------------------------

    def inject_message(
        self,
        chat_id: int,
        user_id: int,
        text: str | None = None,
        *,
        username: str | None = None,
        first_name: str = "Test",
        language_code: str = "en",
        photo: bytes | None = None,
        document: bytes | tuple[bytes, str, str] | None = None,
        chat_type: str = "private",
        sticker: bool = False,
        location: tuple[float, float] | None = None,
        voice: bytes | None = None,
        contact: str | None = None,
        caption: str | None = None,
    ) -> int:
        """A user writes in a chat (document: bytes or (bytes, mime_type, file_name))."""
        user = self._user(user_id, username, first_name, language_code)
        private = {"first_name": first_name} | ({"username": username} if username else {})
        with self._cond:
            chat = self.add_chat(chat_id, chat_type, **(private if chat_type == "private" else {}))
            msg: JSON = {
                "message_id": self._next_message_id(chat_id),
                "from": user,
                "chat": dict(chat),
                "date": int(time.time()),
            }
            if text is not None:
                msg["text"] = text
                if text.startswith("/"):
                    msg["entities"] = [
                        {"type": "bot_command", "offset": 0, "length": len(text.split()[0])}
                    ]
            media = {
                "photo": photo,
                "document": document,
                "voice": voice,
                "sticker": b"RIFF\0\0\0\0WEBP" if sticker else None,
            }
            msg |= {kind: self._media(kind, value) for kind, value in media.items() if value}
            if caption is not None:
                msg["caption"] = caption
            if location is not None:
                msg["location"] = {"latitude": location[0], "longitude": location[1]}
            if contact is not None:
                msg["contact"] = {
                    "phone_number": contact,
                    "first_name": first_name,
                    "user_id": user_id,
                }
            self._messages[(chat_id, msg["message_id"])] = msg
            return self._push({"message": msg})

    def inject_edited_message(self, chat_id: int, user_id: int, message_id: int, text: str) -> int:
        """The user edits the text of one of their messages."""
        with self._cond:
            msg = self._messages.get((chat_id, message_id))
            if msg is None or msg["from"]["id"] != user_id:
                raise ValueError(f"user {user_id} has no message {message_id} in {chat_id}")
            msg.update(text=text, edit_date=int(time.time()))
            return self._push({"edited_message": msg})

    def inject_callback(
        self,
        chat_id: int,
        user_id: int,
        data: str,
        message_id: int,
        *,
        forged: bool = False,
        first_name: str = "Test",
        username: str | None = None,
        language_code: str = "en",
    ) -> int:
        """The user presses an inline button (`forged=True`: data not on the keyboard)."""
        with self._cond:
            msg = self._messages.get((chat_id, message_id))
            if msg is None:
                raise ValueError(f"no message {message_id} in chat {chat_id} (deleted?)")
            if not forged and data not in self.button_data(msg):
                raise ValueError(
                    f"{data!r} is not a button of {message_id}: {self.button_data(msg)}"
                )
            query_id = str(9_000_000 + next(self._ids))
            self.callback_answers[query_id] = None
            user = self._user(user_id, username, first_name, language_code)
            return self._push(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": user,
                        "message": self._public(msg),
                        "chat_instance": f"ci{chat_id}",
                        "data": data,
                    }
                }
            )

    def press(self, chat_id: int, user_id: int, label: str) -> int:
        """Press the button with this text (or data) on the newest bot message having it."""
        for msg in reversed(self.sent_messages(chat_id)):
            for row in (msg.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    data = button.get("callback_data")
                    # The bot's data is "<question tag>|<value>": match the value too.
                    value = data.partition("|")[2] if isinstance(data, str) else None
                    if label in (button.get("text"), data, value):
                        return self.inject_callback(
                            chat_id, user_id, button["callback_data"], msg["message_id"]
                        )
        raise AssertionError(
            f"no button {label!r} in chat {chat_id}: "
            f"{[self.button_data(m) for m in self.sent_messages(chat_id)]}"
        )

    def inject_raw(self, update: JSON) -> int:
        with self._cond:
            if "update_id" in update:
                self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
            return self._push(dict(update), update.get("update_id"))

    # -- what the bot did ----------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, JSON]]:
        with self._cond:
            return list(self._calls)

    def calls_to(self, method: str) -> list[JSON]:
        return [params for name, params in self.calls if name.lower() == method.lower()]

    def sent_messages(self, chat_id: int) -> list[JSON]:
        """The bot's messages still in the chat, as they look now."""
        with self._cond:
            return [
                copy.deepcopy(m)
                for (c, _), m in sorted(self._messages.items())
                if c == chat_id and m["from"]["id"] == self.bot_user["id"]
            ]

    def transcript(self, chat_id: int) -> str:
        """The chat as it reads now, one line a message (for a failing test's report)."""
        with self._cond:
            lines = [
                f"{'bot' if m['from']['id'] == self.bot_user['id'] else 'user'}: "
                f"{m.get('text', '[' + ','.join(k for k in m if k in _MEDIA) + ']')!r}"
                for (c, _), m in sorted(self._messages.items())
                if c == chat_id
            ]
        return "\n".join(lines)

    def last_sent(self, chat_id: int) -> JSON:
        sent = self.sent_messages(chat_id)
        assert sent, f"the bot has no message in chat {chat_id}"
        return sent[-1]

    def deleted(self, chat_id: int) -> set[int]:
        with self._cond:
            return set(self._deleted.get(chat_id, ()))

    @property
    def confirmed_offset(self) -> int:
        with self._cond:
            return self._confirmed_offset

    def pending_updates(self) -> list[JSON]:
        with self._cond:
            return copy.deepcopy(self._pending)

    def update(self, update_id: int) -> JSON:
        with self._cond:
            return copy.deepcopy(self._history[update_id])

    @staticmethod
    def button_data(message: JSON) -> list[str]:
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        return [b["callback_data"] for row in rows for b in row if "callback_data" in b]

    def wait_for(
        self, predicate: Callable[[FakeTelegram], Any], timeout: float = 10.0, message: str = ""
    ) -> Any:
        """Poll until predicate(self) is truthy and return its value."""
        deadline = time.monotonic() + timeout
        while not (value := predicate(self)):
            if time.monotonic() > deadline:
                calls = [f"{m} {p}" for m, p in self.calls[-8:]]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for "
                    f"{message or predicate}; last calls: {calls}; "
                    f"fake errors: {self.errors}"
                )
            time.sleep(0.02)
        return value

    # -- internals -----------------------------------------------------------------------

    def _user(self, user_id: int, username: str | None, first_name: str, lang: str) -> JSON:
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": lang}
        return user | ({"username": username} if username else {})

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _media(self, kind: str, value: bytes | tuple[bytes, str, str]) -> Any:
        """Register an attachment's bytes; return the message field Telegram would send."""
        default_mime, default_name, extra = _MEDIA.get(kind, _MEDIA["document"])
        data, mime, name = (
            value if isinstance(value, tuple) else (value, default_mime, default_name)
        )
        path = f"{kind}s/file_{next(self._ids)}_{name}"
        entry = {**self._meta(self.add_file(data, file_path=path)), **extra}
        if kind == "photo":  # several sizes, largest last
            thumb = self._meta(self.add_file(data[:64], file_path=f"{path}.thumb.jpg"))
            return [{**thumb, "width": 90, "height": 90}, entry]
        return (
            entry
            | ({"mime_type": mime} if kind != "sticker" else {})
            | ({"file_name": name} if kind == "document" else {})
        )

    def _meta(self, file_id: str) -> JSON:
        """File fields as they appear in a message (only getFile tells the path)."""
        return {k: v for k, v in self._files[file_id].items() if k != "file_path"}

    def _push(self, update: JSON, update_id: int | None = None) -> int:
        if update_id is None:
            update_id, self._next_update_id = self._next_update_id, self._next_update_id + 1
        update = copy.deepcopy(update | {"update_id": update_id})
        self._pending.append(update)
        self._history[update_id] = update
        self._cond.notify_all()
        return update_id

    @staticmethod
    def _public(msg: JSON) -> JSON:
        """A message as Telegram returns it: only inline keyboards are echoed."""
        out = copy.deepcopy(msg)
        if "inline_keyboard" not in (out.get("reply_markup") or {}):
            out.pop("reply_markup", None)
        return out

    def _serve(self, handler: _Handler) -> None:
        path = unquote(urlsplit(handler.path).path)  # PTB %-encodes the ':' in file URLs
        params = _read_params(handler)
        api, file = _API_PATH.match(path), _FILE_PATH.match(path)
        if not (api or file):
            return self._answer(handler, TelegramFault(404, "Not Found").body())
        if (api or file)[1] != self.token:  # type: ignore[index]
            return self._answer(handler, TelegramFault(401, "Unauthorized").body())
        method = api[2] if api else "file"
        with self._cond:
            if api:
                self._calls.append((method, params))
            fault = self._faults.get(method.lower()) and self._faults[method.lower()].pop(0)
            pause = self._delays.get(method.lower(), 0)
        if pause:
            self._stopping.wait(pause)
        if fault:
            return self._answer(handler, fault.body())
        if file:
            data = self._file_data.get(file[2])
            if data is None:
                return self._answer(handler, TelegramFault(404, "Not Found").body())
            return handler.reply(200, data, "application/octet-stream")
        try:
            with self._cond:
                body: JSON = {"ok": True, "result": self._dispatch(method.lower(), params)}
        except TelegramFault as exc:
            body = exc.body()
        except Exception as exc:  # a bug in the fake: report it, keep serving
            logger.exception("fake telegram failed on %s", method)
            self.errors.append(f"{method}: {exc!r}")
            body = TelegramFault(500, f"Internal Server Error: {exc!r}").body()
        return self._answer(handler, body)

    @staticmethod
    def _answer(handler: _Handler, body: JSON) -> None:
        handler.reply(200 if body["ok"] else body["error_code"], json.dumps(body).encode())

    def _dispatch(self, name: str, p: JSON) -> Any:
        if name == "getme":
            return self.bot_user
        if name == "getupdates":
            return self._get_updates(p)
        if name == "getfile":
            if p.get("file_id") not in self._files:
                raise _bad("invalid file_id")
            return self._files[p["file_id"]]
        if name == "answercallbackquery":
            query_id = str(p.get("callback_query_id"))
            if self.callback_answers.get(query_id, True) is not None:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self.callback_answers[query_id] = p
        elif name in ("editmessagetext", "editmessagereplymarkup"):
            msg = self._messages.get((p.get("chat_id"), p.get("message_id")))
            if msg is None:
                raise _bad("message to edit not found")
            if msg["from"]["id"] != self.bot_user["id"]:
                raise _bad("message can't be edited")
            text = p["text"] if name == "editmessagetext" else msg.get("text")
            if text == msg.get("text") and p.get("reply_markup") == msg.get("reply_markup"):
                raise _bad(
                    "message is not modified: specified new message content and reply "
                    "markup are exactly the same as a current content and reply markup "
                    "of the message"
                )
            msg.update(text=text, edit_date=int(time.time()), reply_markup=p.get("reply_markup"))
            if msg["reply_markup"] is None:  # as in Telegram: no markup removes the keyboard
                del msg["reply_markup"]
            return self._public(msg)
        elif name in ("deletemessage", "deletemessages"):
            chat_id = p.get("chat_id")
            ids = p.get("message_ids", []) if name == "deletemessages" else [p.get("message_id")]
            found = [i for i in ids if (chat_id, i) in self._messages]
            if name == "deletemessage" and not found:
                raise _bad("message to delete not found")
            for i in found:  # deleteMessages skips unknown ids, as documented
                del self._messages[(chat_id, i)]
                self._deleted.setdefault(chat_id, set()).add(i)
        elif name == "setwebhook":
            self.webhook_url = p.get("url", "")
        elif name == "deletewebhook":
            self.webhook_url = ""
            if p.get("drop_pending_updates"):
                self._pending.clear()
        elif name == "getwebhookinfo":
            return {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
        elif name == "setmycommands":
            self.commands[p.get("language_code", "")] = p.get("commands", [])
        elif name == "getmycommands":
            return self.commands.get(p.get("language_code", ""), [])
        elif name.startswith("send") and name not in ("sendchataction", "sendmediagroup"):
            return self._send(name.removeprefix("send"), p)
        return True

    def _get_updates(self, p: JSON) -> list[JSON]:
        if self.webhook_url:
            raise TelegramFault(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        offset, limit = int(p.get("offset", 0)), min(max(int(p.get("limit", 100)), 1), 100)
        if offset > 0:  # confirms every update before `offset`, for good
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
            self._confirmed_offset = max(self._confirmed_offset, offset)
        elif offset < 0:  # keep only the last -offset updates
            self._pending = self._pending[offset:]
        deadline = time.monotonic() + min(float(p.get("timeout", 0)), self.max_poll_seconds)
        while not self._pending and not self._stopping.is_set():
            if (left := deadline - time.monotonic()) <= 0:
                break
            self._cond.wait(left)
        return self._pending[:limit]

    def _send(self, kind: str, p: JSON) -> JSON:
        chat_id = p.get("chat_id")
        if chat_id not in self._chats:
            if self.strict_chats or not isinstance(chat_id, int):
                raise _bad("chat not found")
            self.add_chat(chat_id)
        if chat_id in self._blocked:
            raise TelegramFault(403, "Forbidden: bot was blocked by the user")
        msg: JSON = {
            "message_id": 0,
            "from": self.bot_user,
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
        }
        if kind == "message":
            text = p.get("text") or ""
            if not text.strip():
                raise _bad("message text is empty")
            if len(text.encode("utf-16-le")) > 2 * 4096:
                raise _bad("message is too long")
            msg["text"] = text
        elif isinstance(p.get(kind), tuple):  # an upload
            msg[kind] = self._media(kind, p[kind])
        msg |= {k: p[k] for k in ("caption", "reply_markup") if k in p}
        msg["message_id"] = self._next_message_id(chat_id)
        self._messages[(chat_id, msg["message_id"])] = msg
        return self._public(msg)
