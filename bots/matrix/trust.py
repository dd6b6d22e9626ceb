"""Which of a defender's devices get room keys, and when officers are warned: pure.

The bot encrypts its replies to the defender's devices. Like Element since
April 2026, by default it shares room keys only with devices their owner
cross-signed (`share_keys_with = "cross-signed"`); `"all"` shares with every
device (for defenders on clients without cross-signing). Whatever the mode,
what was seen is recorded per user (their master key and devices) and:

- at the first contact everything is trusted on first use (and recorded);
- a later device that its owner did not cross-sign is a `new_device`
  warning: their new phone, or someone who took over their account;
- a changed (or removed) master key is an `identity_changed` warning: they
  reset their encryption, or someone else controls the account. A user who
  had no master key at first contact and sets one up is not warned.

A new device signed by an unchanged master key is the owner's own: no warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bots.matrix.crosssigning import UserKeys

__all__ = ["IDENTITY_CHANGED", "NEW_DEVICE", "KnownUser", "ShareMode", "Verdict", "judge"]

NEW_DEVICE = "new_device"
IDENTITY_CHANGED = "identity_changed"
ShareMode = Literal["cross-signed", "all"]


@dataclass(frozen=True)
class KnownUser:
    """What was recorded of a user: their master key, their devices (id -> ed25519)."""

    master: str | None = None
    devices: Mapping[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Verdict:
    """The decision for one user's current devices.

    Attributes:
        first_use: nothing was recorded of this user before.
        warning: NEW_DEVICE, IDENTITY_CHANGED or None.
        share: the device ids that get room keys.
        record: what to record from now on (None: unchanged).
    """

    first_use: bool
    warning: str | None
    share: frozenset[str] = field(repr=False)
    record: KnownUser | None = field(default=None, repr=False)


def judge(
    known: KnownUser | None,
    current: Mapping[str, str],
    keys: UserKeys,
    mode: ShareMode = "cross-signed",
) -> Verdict:
    """Decide for a user's `current` devices (id -> ed25519) and published cross-signing keys."""
    signed = frozenset(d for d, key in current.items() if keys.device_signed(d, key))
    share = frozenset(current) if mode == "all" else signed
    recorded = KnownUser(keys.master, dict(current))
    if known is None:
        return Verdict(first_use=bool(current), warning=None, share=share, record=recorded)
    warning: str | None = None
    if known.master is not None and keys.master != known.master:
        warning = IDENTITY_CHANGED
    else:
        fresh = [d for d, key in current.items() if known.devices.get(d) != key]
        if any(d not in signed for d in fresh):
            warning = NEW_DEVICE
    devices = {**known.devices, **current}
    # A master key set up later is recorded; a changed or removed one replaces the record
    # (warned once).
    master = keys.master if keys.master is not None or warning else known.master
    record = KnownUser(master, devices)
    changed = record.master != known.master or dict(record.devices) != dict(known.devices)
    return Verdict(
        first_use=False, warning=warning, share=share, record=record if changed else None
    )
