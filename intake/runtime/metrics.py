"""Counters for `/metrics`, in the Prometheus text format.

The service counts in memory what it committed (messages in per channel,
duplicates, cases submitted per mission and kind, errors): a dict increment
under a lock, after the commit, so a rolled-back batch counts nothing. The
counts are per process; Prometheus sums the processes. Labels are channel
names, mission ids, case kinds, error kinds and logger names: never content,
never a defender's identity.

What the database knows (queue depth, pending deliveries, records per KEK
version) is read at scrape time by `intake.runtime.gauges`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PREFIX = "hrd_intake_"

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Family:
    """One metric: its samples as (labels, value)."""

    name: str
    kind: str  # "counter" or "gauge"
    help: str
    samples: tuple[tuple[Labels, float], ...] = ()


def family(
    name: str, kind: str, help_text: str, values: Mapping[Labels, float] | None = None
) -> Family:
    return Family(PREFIX + name, kind, help_text, tuple(sorted((values or {}).items())))


def labels(**pairs: object) -> Labels:
    return tuple((key, str(value)) for key, value in pairs.items())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render(families: Iterable[Family]) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    lines: list[str] = []
    for item in families:
        lines.append(f"# HELP {item.name} {item.help}")
        lines.append(f"# TYPE {item.name} {item.kind}")
        for pairs, value in item.samples:
            text = ",".join(f'{key}="{_escape(val)}"' for key, val in pairs)
            name = f"{item.name}{{{text}}}" if text else item.name
            lines.append(f"{name} {_number(value)}")
    return "\n".join(lines) + "\n"


@dataclass
class BatchTally:
    """What one batch did, applied to the counters only once it committed."""

    messages: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    cases: Counter[tuple[str, str]] = field(default_factory=Counter)
    # Submissions held because a key did not verify, per kind of key.
    untrusted: Counter[str] = field(default_factory=Counter)


class ServiceMetrics:
    """The service's counters (thread-safe: channels commit from worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: Counter[Labels] = Counter()
        self._duplicates: Counter[Labels] = Counter()
        self._cases: Counter[Labels] = Counter()
        self._errors: Counter[Labels] = Counter()
        self._untrusted: Counter[Labels] = Counter()

    def committed(self, tally: BatchTally) -> None:
        with self._lock:
            for channel, count in tally.messages.items():
                self._messages[labels(channel=channel)] += count
            for channel, count in tally.duplicates.items():
                self._duplicates[labels(channel=channel)] += count
            for (mission, kind), count in tally.cases.items():
                self._cases[labels(mission=mission, kind=kind)] += count
            for key_kind, count in tally.untrusted.items():
                self._untrusted[labels(key_kind=key_kind)] += count

    def error(self, kind: str) -> None:
        with self._lock:
            self._errors[labels(kind=kind)] += 1

    def families(self) -> list[Family]:
        with self._lock:
            return [
                family(
                    "messages_total", "counter", "Messages recorded, per channel.", self._messages
                ),
                family(
                    "duplicate_messages_total",
                    "counter",
                    "Messages seen again (redelivered by the platform) and skipped.",
                    self._duplicates,
                ),
                family(
                    "untrusted_key_refusals_total",
                    "counter",
                    "Submissions held because a public key did not verify (keys verify), per kind.",
                    self._untrusted,
                ),
                family(
                    "cases_submitted_total",
                    "counter",
                    "Cases submitted, per mission and kind.",
                    self._cases,
                ),
                family(
                    "errors_total",
                    "counter",
                    "Batches the database refused (database) and messages that broke (message).",
                    self._errors,
                ),
            ]


class LogCounter(logging.Handler):
    """Counts warnings and errors per logger: every component's failures, at no cost to them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._counts: Counter[Labels] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        # `Handler.handle` holds `self.lock` around emit.
        self._counts[labels(level=record.levelname.lower(), logger=record.name)] += 1

    def families(self) -> list[Family]:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            counts = dict(self._counts)
        return [
            family(
                "log_records_total",
                "counter",
                "Warnings and errors logged, per level and logger.",
                counts,
            )
        ]
