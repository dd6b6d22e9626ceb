"""Who acts on a case: an officer with their unlocked keys, or security staff with the recovery key."""

from __future__ import annotations

from intake.errors import NoKeyAtHand
from intake.keys.holders import KeysAtHand
from intake.storage.models import Officer
from intake.triage.actions import actor_name

__all__ = ["Acting"]


class Acting:
    """Who acts: an officer with their unlocked keys, or security staff with the recovery key."""

    def __init__(self, officer: Officer | None, keys: KeysAtHand | None) -> None:
        self.officer = officer
        self.keys = keys

    @property
    def actor(self) -> str:
        return actor_name(self.officer, self.keys)

    def require_keys(self) -> KeysAtHand:
        if self.keys is None:
            raise NoKeyAtHand("this step needs the officer's unlocked key")
        return self.keys
