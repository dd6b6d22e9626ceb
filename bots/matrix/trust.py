"""Device trust on first use: pure decisions over device records, no I/O.

The bot encrypts its replies to every device of the defender. The first
devices seen for a user are trusted (and logged, without ids); a device that
appears later for a known user, or a known device id whose key changed, is a
`TrustChange` the channel reports: it may be the defender's new phone, or
someone who took over their account.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# user id -> {device id: ed25519 fingerprint key}
DeviceRecords = dict[str, dict[str, str]]


@dataclass(frozen=True)
class TrustChange:
    """What changed for one user since the devices were last recorded."""

    first_use: bool = False
    added: tuple[str, ...] = field(default=(), repr=False)
    rekeyed: tuple[str, ...] = field(default=(), repr=False)

    @property
    def suspicious(self) -> bool:
        """A known user gained a device, or a device changed its key."""
        return not self.first_use and bool(self.added or self.rekeyed)


def assess(
    records: Mapping[str, Mapping[str, str]], user_id: str, current: Mapping[str, str]
) -> TrustChange:
    """Compare a user's current devices (id -> ed25519 key) with the records."""
    known = records.get(user_id)
    if known is None:
        return TrustChange(first_use=bool(current), added=tuple(sorted(current)))
    added = tuple(sorted(d for d in current if d not in known))
    rekeyed = tuple(sorted(d for d, key in current.items() if d in known and known[d] != key))
    return TrustChange(added=added, rekeyed=rekeyed)


def updated(
    records: Mapping[str, Mapping[str, str]], user_id: str, current: Mapping[str, str]
) -> DeviceRecords:
    """The records with `current` devices added to the user's (none are forgotten)."""
    result = {user: dict(devices) for user, devices in records.items()}
    result.setdefault(user_id, {}).update(current)
    return result
