"""Files defenders send, taken from signal-cli's attachment folder and removed from it at once.

signal-cli downloads and decrypts every attachment into its folder (by
default `~/.local/share/signal-cli/attachments`, `HRD_INTAKE_SIGNAL_ATTACHMENTS`
here) under the id the notification names, and never deletes it. There it
lies in the clear, EXIF and all. So the channel reads each file, hands the
bytes to the core with the message (the inbox seals them at once; the core
cleans them like any other channel's), and deletes the file as soon as the
inbox has committed: the folder holds a file only between its download and
the next commit. A file larger than the core accepts is not read (the core
refuses it by its declared size) but is deleted all the same.

The id comes from the daemon; it is still checked to be a plain file name
in the folder (no separators, no `..`), so a confused daemon cannot make
the bot read or delete anything else.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from bots.signal.envelopes import AttachmentRef
from intake.messages import Attachment

__all__ = ["AttachmentFolder", "default_folder"]

log = logging.getLogger(__name__)


def default_folder() -> Path:
    """signal-cli's default attachment folder for the user running it."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "signal-cli" / "attachments"


class AttachmentFolder:
    """Reads and removes attachments in signal-cli's folder.

    Args:
        root: the folder.
        max_bytes: larger files are not read (the core refuses them by size).
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self._root = root
        self._max_bytes = max_bytes

    def _path(self, ref: AttachmentRef) -> Path | None:
        name = ref.id
        if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
            return None
        return self._root / name

    def take(self, ref: AttachmentRef) -> Attachment:
        """The file's bytes (empty with `declared_size` when too large or missing)."""
        path = self._path(ref)
        size = ref.size
        try:
            if path is None:
                raise FileNotFoundError(ref.id)
            size = path.stat().st_size
            if size > self._max_bytes:
                return Attachment(b"", ref.media_type, ref.name, declared_size=size)
            return Attachment(path.read_bytes(), ref.media_type, ref.name)
        except OSError as exc:
            # Not there (signal-cli ran with --ignore-attachments, or it failed to download).
            log.warning(
                "signal attachment unreadable (%s)", type(exc).__name__, extra={"channel": "signal"}
            )
            return Attachment(b"", ref.media_type, ref.name, declared_size=size)

    def remove(self, refs: Iterable[AttachmentRef]) -> None:
        """Delete the files (they are sealed in the inbox now)."""
        for ref in refs:
            path = self._path(ref)
            if path is None:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.error(
                    "signal attachment not deleted from signal-cli's folder (%s): check its "
                    "permissions, the file lies there in the clear",
                    type(exc).__name__,
                    extra={"channel": "signal"},
                )
