"""Fetching and decrypting a defender's encrypted file from the content repository.

The homeserver holds only ciphertext (AES-256-CTR, key and hash inside the
end-to-end encrypted event); we download at most `max_bytes + 1` bytes, check
the SHA-256 and decrypt in memory. Nothing touches the disk: the core cleans
the file and stores it sealed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass

import aiohttp
from nio.crypto.attachments import decrypt_attachment  # type: ignore[import-untyped]
from nio.exceptions import EncryptionError  # type: ignore[import-untyped]

from bots.matrix.events import Media
from intake.messages import Attachment

log = logging.getLogger(__name__)

_MXC = re.compile(r"^mxc://([A-Za-z0-9.:\[\]-]+)/([A-Za-z0-9_-]+)$")
_CHUNK = 64 * 1024
# Transient failures (connection reset, 5xx) are retried: a download is a
# read, repeating it has no effect on the server.
_ATTEMPTS = 3


class MediaUnavailable(Exception):
    """The file cannot be fetched or does not decrypt; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"media unavailable: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class MediaFetcher:
    """Downloads from one homeserver with the bot's access token."""

    session: aiohttp.ClientSession
    homeserver: str
    access_token: str

    async def fetch(self, media: Media, max_bytes: int) -> Attachment:
        """The decrypted file, or an empty `Attachment` whose size says it is too large.

        Raises:
            MediaUnavailable: bad URL, not found, failed download or failed integrity check.
        """
        if media.declared_size is not None and media.declared_size > max_bytes:
            return Attachment(b"", media.media_type, media.name, media.declared_size)
        ciphertext = await self._download(media.url, max_bytes)
        if len(ciphertext) > max_bytes:
            return Attachment(b"", media.media_type, media.name, len(ciphertext))
        try:
            # Who can decrypt: whoever holds the event's key, i.e. the room's members.
            data = decrypt_attachment(ciphertext, media.key, media.sha256, media.iv)
        except (EncryptionError, ValueError, KeyError) as exc:
            raise MediaUnavailable("integrity check failed") from exc
        return Attachment(bytes(data), media.media_type, media.name, media.declared_size)

    async def _download(self, url: str, max_bytes: int) -> bytes:
        match = _MXC.match(url)
        if match is None:
            raise MediaUnavailable("not an mxc URL")
        server, media_id = match.groups()
        base = self.homeserver.rstrip("/")
        address = f"{base}/_matrix/client/v1/media/download/{server}/{media_id}"
        headers = {"Authorization": f"Bearer {self.access_token}"}
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with self.session.get(address, headers=headers) as response:
                    if response.status == 200:
                        return await _read_capped(response, max_bytes + 1)
                    if response.status < 500 and response.status != 429:
                        raise MediaUnavailable(f"HTTP {response.status}")
            except (aiohttp.ClientError, TimeoutError):
                log.warning("file download failed", extra={"channel": "matrix", "count": attempt})
            await asyncio.sleep(0.5 * attempt)
        raise MediaUnavailable("download failed")


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The body, stopping once `limit` bytes are read (a larger file is refused anyway)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]
