"""What `/healthz` and `/readyz` report: the process, its channels, its database.

The runner (`bots.leased`) sets each channel's state as it waits for its
lease, runs, or stops; the HTTP endpoints read them. Liveness is "the
process answers"; readiness is "the database answers and every channel
runs, its lease held". A standby process (another one holds the lease) is
alive but not ready: that is its job, not a fault.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from intake.runtime.metrics import Family, family, labels
from intake.storage.counts import unreadable_queues
from intake.storage.engine import ping
from intake.storage.inbox import count_set_aside_by_channel


class ChannelState(StrEnum):
    STARTING = "starting"
    STANDBY = "standby"  # waiting for the lease another process holds
    RUNNING = "running"
    STOPPED = "stopped"
    FAILED = "failed"


@dataclass
class ChannelStatus:
    """One channel's state in this process (changed by the runner only)."""

    name: str
    leased: bool = True  # False: a channel of this process alone (the console)
    state: ChannelState = ChannelState.STARTING
    lease_held: bool = False
    generation: int | None = None
    changed: float = field(default_factory=time.monotonic)
    # Why a running channel cannot work ("daemon_unreachable"...); None when it can.
    fault: str | None = None

    def set(self, state: ChannelState, lease_held: bool, generation: int | None = None) -> None:
        self.state, self.lease_held, self.generation = state, lease_held, generation
        self.changed = time.monotonic()

    def set_fault(self, fault: str | None) -> None:
        """Set by the channel itself (the runner knows leases, the channel its platform)."""
        self.fault = fault

    @property
    def ready(self) -> bool:
        running = self.state is ChannelState.RUNNING and (self.lease_held or not self.leased)
        return running and self.fault is None


class Health:
    """The process's channels and its database, as probes see them.

    Args:
        sessions: opens database sessions (a probe runs `SELECT 1`).
        key_problems: lists, one sentence each, the public keys sealing would
            refuse (`intake.keys.directory`); any makes the process not ready.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        key_problems: Callable[[], list[str]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._key_problems = key_problems
        self._channels: dict[str, ChannelStatus] = {}

    def channel(self, name: str, leased: bool = True) -> ChannelStatus:
        """The status of channel `name`, registered on first use."""
        return self._channels.setdefault(name, ChannelStatus(name, leased))

    @property
    def channels(self) -> list[ChannelStatus]:
        return list(self._channels.values())

    def database_answers(self) -> bool:
        """One `SELECT 1` (blocking: call it in a thread)."""
        try:
            with self._sessions() as session:
                ping(session)
            return True
        except SQLAlchemyError:
            return False

    def untrusted_keys(self) -> list[str]:
        """The key directory's problems (blocking: call it in a thread); [] when unchecked."""
        if self._key_problems is None:
            return []
        try:
            return self._key_problems()
        except SQLAlchemyError:
            return []  # the database probe reports that

    def unreadable_cases(self) -> dict[str, int]:
        """Mission -> cases no active officer can open (blocking: call it in a thread).

        Empty when the database does not answer (`database` says so already).
        """
        try:
            with self._sessions() as session:
                return {q.mission_id: q.cases for q in unreadable_queues(session)}
        except SQLAlchemyError:
            return {}

    def unreadable_inbox(self) -> dict[str, int]:
        """Channel -> inbox messages set aside because they did not open (blocking: in a thread).

        Empty when the database does not answer (`database` says so already).
        """
        try:
            with self._sessions() as session:
                return count_set_aside_by_channel(session)
        except SQLAlchemyError:
            return {}

    def report(
        self,
        database: bool,
        untrusted: list[str] | None = None,
        unreadable: dict[str, int] | None = None,
        unreadable_inbox: dict[str, int] | None = None,
    ) -> tuple[bool, dict[str, object]]:
        """(ready, details): details name states and keys only, never content or a defender.

        `unreadable` (mission -> cases no officer can open) and `unreadable_inbox`
        (channel -> kept messages set aside because they did not open) are shown,
        not reasons to be unready: the channels work on, and `keys status` /
        `keys verify` fail for them.
        """
        channels: dict[str, dict[str, object]] = {}
        for status in self._channels.values():
            channels[status.name] = {"state": str(status.state), "lease_held": status.lease_held}
            if status.fault is not None and status.state is ChannelState.RUNNING:
                channels[status.name]["fault"] = status.fault
        ready = (
            database and not untrusted and all(status.ready for status in self._channels.values())
        )
        details: dict[str, object] = {"ready": ready, "database": database, "channels": channels}
        if untrusted:
            details["untrusted_keys"] = list(untrusted)
        if unreadable:
            details["unreadable_cases"] = dict(unreadable)
        if unreadable_inbox:
            details["unreadable_inbox_messages"] = dict(unreadable_inbox)
        return ready, details

    def families(self) -> list[Family]:
        """The channels' states for `/metrics`."""
        running = {
            labels(channel=s.name): float(s.state is ChannelState.RUNNING)
            for s in self._channels.values()
        }
        held = {
            labels(channel=s.name): float(s.lease_held) for s in self._channels.values() if s.leased
        }
        faults = {
            labels(channel=s.name, fault=s.fault): 1.0
            for s in self._channels.values()
            if s.fault is not None and s.state is ChannelState.RUNNING
        }
        return [
            family(
                "channel_running", "gauge", "1 while the channel runs in this process.", running
            ),
            family(
                "channel_fault",
                "gauge",
                "1 while a running channel cannot work, by cause (daemon_unreachable...).",
                faults,
            ),
            family(
                "channel_lease_held",
                "gauge",
                "1 while this process holds the channel's lease (0: standing by).",
                held,
            ),
        ]
