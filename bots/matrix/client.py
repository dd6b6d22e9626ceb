"""The matrix-nio client as the channel uses it: durable keys, quiet logs.

nio is untyped (no `py.typed`), hence the `type: ignore` on its imports.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable
from typing import Any, TypeVar

import aiohttp
import nio  # type: ignore[import-untyped]
from nio.api import Api  # type: ignore[import-untyped]

from bots.matrix.megolm import megolm_index
from bots.matrix.store import ItemStore, store_class

T = TypeVar("T")

# Matrix ids (@user:server, !room:server, #alias:server, $event:server, !room), bare
# event ids of room versions 3+, 43-character base64 keys, access tokens and
# Synapse's 10-letter device ids: what nio's own messages may carry.
_IDENTIFIERS = re.compile(
    r"[@!#$+][^\s:'\"]+:[A-Za-z0-9.\-\[\]]+(?::\d+)?"
    # Room ids of room version 12 have no server part: "!" and a 43-character hash.
    r"|![A-Za-z0-9_\-]{20,}"
    r"|\$[A-Za-z0-9+/=_-]{16,}"
    r"|\b[A-Za-z0-9+/]{43}\b"
    r"|\bsy[a-z]_[A-Za-z0-9_]+"
    r"|\b[A-Z]{10}\b"
)


def scrub(text: str) -> str:
    return _IDENTIFIERS.sub("<id>", text)


class ScrubIdentifiers(logging.Filter):
    """Rewrites a library's log record so it carries no Matrix identifier."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = scrub(record.getMessage())
        record.args = None
        return True


def quiet_libraries() -> None:
    """Keep nio (ids in its messages) and peewee (SQL with values) out of our logs.

    A logger's filters do not apply to its children, so every nio logger
    (created when nio was imported) gets one.
    """
    scrubber = ScrubIdentifiers()
    for name in list(logging.root.manager.loggerDict):
        if name == "nio" or name.startswith("nio."):
            logger = logging.getLogger(name)
            logger.setLevel(logging.WARNING)
            if not any(isinstance(f, ScrubIdentifiers) for f in logger.filters):
                logger.addFilter(scrubber)
    logging.getLogger("peewee").setLevel(logging.WARNING)


class DurableKeysClient(nio.AsyncClient):  # type: ignore[misc]
    """An `AsyncClient` that saves new one-time keys before uploading them,
    and says when it has taken in its first sync (`synced_once`).

    nio generates one-time keys in memory, uploads them, and saves its account
    only after the server answered. Killed in between, the server would hand
    out keys whose private halves are gone (the defender's room keys to us
    could not be decrypted) and our next upload would collide with them. Saving
    first makes the upload safe to repeat: the same keys are sent again.
    """

    # Set once a sync response has been taken in: the rooms are known from then on.
    synced_once = False
    # How many key queries nio has made: `devices` reads cross-signing keys again after one.
    keys_queries = 0

    async def receive_response(self, response: Any) -> None:
        await super().receive_response(response)
        if isinstance(response, nio.SyncResponse):
            self.synced_once = True
        elif isinstance(response, nio.KeysQueryResponse):
            self.keys_queries += 1

    # nio drops a Megolm message's index when it decrypts it; `forget` needs it
    # (what was read is what the store must no longer decrypt after a wipe).

    def _handle_timeline_event(self, event: Any, *args: Any) -> Any:
        index = megolm_index(event.ciphertext) if isinstance(event, nio.MegolmEvent) else None
        decrypted = super()._handle_timeline_event(event, *args)
        if decrypted is not None and index is not None:
            decrypted.megolm_index = index
        return decrypted

    def decrypt_event(self, event: Any) -> Any:
        index = megolm_index(event.ciphertext) if isinstance(event, nio.MegolmEvent) else None
        decrypted = super().decrypt_event(event)
        if decrypted is not None and index is not None:
            decrypted.megolm_index = index
        return decrypted

    def _handle_messages_response(self, response: Any) -> None:
        indices = {
            e.event_id: megolm_index(e.ciphertext)
            for e in response.chunk
            if isinstance(e, nio.MegolmEvent)
        }
        super()._handle_messages_response(response)
        for event in response.chunk:
            if event.event_id in indices and not isinstance(event, nio.MegolmEvent):
                event.megolm_index = indices[event.event_id]

    async def keys_upload(self) -> Any:
        if not self.should_upload_keys:
            raise nio.LocalProtocolError("No key upload needed.")
        keys = self.olm.share_keys()
        self.olm.save_account()
        method, path, data = Api.keys_upload(self.access_token, keys)
        return await self._send(nio.KeysUploadResponse, method, path, data)


def make_client(
    homeserver: str, user: str, items: ItemStore, pickle_key: str
) -> DurableKeysClient:
    """A client whose encryption store is `items` (in the database, sealed).

    nio's own stores write files (SQLite, and plaintext known-hosts files
    for device trust); `store.DatabaseStore` writes nothing to disk.
    """
    config = nio.AsyncClientConfig(
        store=store_class(items),
        encryption_enabled=True,
        pickle_key=pickle_key,
        store_sync_tokens=False,  # we keep the token ourselves, after the core commits
        max_timeouts=3,
        max_limit_exceeded=5,
        request_timeout=30,
    )
    # nio loads a store only when it has a path; ours ignores it.
    return DurableKeysClient(homeserver, user, store_path="database", config=config)


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    """No presence, typing or receipts; enough timeline that a restart rarely
    needs to page back (it does when the server says the timeline is limited)."""
    return {
        "presence": {"types": []},
        "account_data": {"types": []},
        "room": {
            "timeline": {"limit": timeline_limit},
            "ephemeral": {"types": []},
            "account_data": {"types": []},
        },
    }


async def unless_stopped(stop: asyncio.Event, awaitable: Awaitable[T]) -> T | None:
    """The awaitable's result, or None (and the awaitable cancelled) once `stop` is set."""
    task = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        stopper.cancel()
        return task.result()
    task.cancel()
    try:
        await task
    except (asyncio.CancelledError, aiohttp.ClientError, TimeoutError):
        pass
    return None
