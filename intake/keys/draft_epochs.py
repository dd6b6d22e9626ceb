"""Draft-epoch keys: a new one every `[keys] draft_epoch_minutes`, destroyed after the window.

What is wrapped under whom: a draft (a conversation's record and its files,
until submission) has its own data key, wrapped under the keyring's current
draft-epoch key and re-wrapped under the newest one at every step. Nothing
else is wrapped under these keys. A draft untouched for `draft_idle_hours` is
dead anyway, so an epoch key whose successor started more than the idle time
ago protects nothing alive: it is destroyed (removed from the keyring file).
From then on no copy of the database from that epoch opens with any keyring
the server holds: backups, SQLite WAL frames, PostgreSQL dead tuples and WAL
archives of that time included. The bound is the window: idle time plus one
epoch after the epoch began (a little more if the service was down when the
epoch should have turned).

Starting an epoch and destroying old ones change the keyring file, under its
lock (`intake.keys.keyring_admin.update_keyring_file`); every process derives
the same decision from the file as it reads it under the lock, so two
services sharing the file never start two epochs nor lose one.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from crypto import Keyring, KeyVersion

log = logging.getLogger(__name__)

# Applies a change to the keyring file under its lock and returns the result.
KeyringUpdate = Callable[[Callable[[Keyring], Keyring]], Keyring]


@dataclass(frozen=True)
class DraftWindow:
    """How long a draft-epoch key lives.

    Attributes:
        epoch: how often a new draft-epoch key starts.
        idle: a draft untouched this long is destroyed (`draft_idle_hours`).
    """

    epoch: timedelta
    idle: timedelta

    def due(self, keyring: Keyring, now: datetime) -> bool:
        """Whether a new epoch must start (none yet, or the current one is over)."""
        if not keyring.has_primary("draft"):
            return True
        current = keyring.primary("draft")
        started = next(e.created_at for e in keyring.versions("draft") if e.version == current)
        return now - started >= self.epoch

    def doomed(self, keyring: Keyring, now: datetime) -> list[KeyVersion]:
        """Epoch keys to destroy: older than idle plus one epoch, and over for longer than idle.

        The second condition keeps a key that stayed current past its epoch
        (the service was stopped): drafts written under it until its successor
        started are still within their idle time.
        """
        if not keyring.has_primary("draft"):
            return []
        entries = keyring.versions("draft")
        doomed = []
        for entry, successor in itertools.pairwise(entries):
            old_enough = entry.created_at < now - self.idle - self.epoch
            over_long_enough = successor.created_at < now - self.idle
            if old_enough and over_long_enough and entry.version != keyring.primary("draft"):
                doomed.append(entry.version)
        return doomed


class DraftEpochs:
    """Starts and destroys draft-epoch keys in the keyring file.

    Args:
        current: the keyring the service uses now.
        update: applies a change to the keyring file under its lock (and makes
            `current` return the result).
        window: epoch length and draft idle time.
    """

    def __init__(
        self, current: Callable[[], Keyring], update: KeyringUpdate, window: DraftWindow
    ) -> None:
        self._current = current
        self._update = update
        self.window = window

    def ensure_current(self, now: datetime) -> KeyVersion:
        """Start a new epoch when the current one is over; returns the current version.

        Cheap when nothing is due (no file access): called before every batch.
        """
        if self.window.due(self._current(), now):

            def start(keyring: Keyring) -> Keyring:
                if not self.window.due(keyring, now):
                    return keyring  # another process started it meanwhile
                return keyring.rotate("draft", now)

            keyring = self._update(start)
            log.info("draft epoch started", extra={"draft_epoch": keyring.primary("draft")})
        return self._current().primary("draft")

    def destroy_expired(self, now: datetime) -> list[KeyVersion]:
        """Destroy the epoch keys past the window; returns their versions (oldest first).

        A new epoch is started first if due, so the current key is never one of them.
        """
        self.ensure_current(now)
        if not self.window.doomed(self._current(), now):
            return []
        destroyed: list[KeyVersion] = []

        def destroy(keyring: Keyring) -> Keyring:
            destroyed[:] = self.window.doomed(keyring, now)
            return keyring.destroy("draft", destroyed) if destroyed else keyring

        self._update(destroy)
        if destroyed:
            log.info(
                "draft epoch keys destroyed",
                extra={"draft_epochs": f"{destroyed[0]}-{destroyed[-1]}", "count": len(destroyed)},
            )
        return destroyed

    def current(self) -> Keyring:
        """The keyring the service uses now."""
        return self._current()

    def oldest_kept(self) -> KeyVersion | None:
        """The oldest epoch still in the keyring: rows under older ones open no more."""
        entries = self._current().versions("draft")
        return entries[0].version if entries else None
