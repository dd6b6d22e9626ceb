"""Counters for `/metrics`, exposed through prometheus-client.

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
from collections import Counter as Tally
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

__all__ = [
    "CONTENT_TYPE",
    "BatchTally",
    "Family",
    "LogCounter",
    "ServiceMetrics",
    "family",
    "labels",
    "render",
]

PREFIX = "hrd_intake_"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # what generate_latest writes
# A `_created` series per counter says when a process started counting: noise here.
disable_created_metrics()  # type: ignore[no-untyped-call]

Labels = tuple[tuple[str, str], ...]
Family = Metric


def family(
    name: str, kind: str, help_text: str, values: Mapping[Labels, float] | None = None
) -> Family:
    """A metric computed at scrape time (database gauges, channel states)."""
    samples = sorted((values or {}).items())
    names = [key for key, _ in samples[0][0]] if samples else []
    maker = CounterMetricFamily if kind == "counter" else GaugeMetricFamily
    metric = maker(PREFIX + name, help_text, labels=names)
    for pairs, value in samples:
        metric.add_metric([val for _, val in pairs], value)
    return metric


def labels(**pairs: object) -> Labels:
    return tuple((key, str(value)) for key, value in pairs.items())


class _Fixed(Collector):
    def __init__(self, families: Iterable[Family]) -> None:
        self._families = list(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: Iterable[Family]) -> str:
    """The Prometheus text exposition format, written by prometheus-client."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    return generate_latest(registry).decode("utf-8")


@dataclass
class BatchTally:
    """What one batch did, applied to the counters only once it committed."""

    messages: Tally[str] = field(default_factory=Tally)
    duplicates: Tally[str] = field(default_factory=Tally)
    cases: Tally[tuple[str, str]] = field(default_factory=Tally)
    # Submissions held because a key did not verify, per kind of key.
    untrusted: Tally[str] = field(default_factory=Tally)


class ServiceMetrics:
    """The service's counters (prometheus-client counters are thread-safe)."""

    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)

        def counter(name: str, help_text: str, names: list[str]) -> Counter:
            return Counter(PREFIX + name, help_text, names, registry=self._registry)

        self._messages = counter("messages", "Messages recorded, per channel.", ["channel"])
        self._duplicates = counter(
            "duplicate_messages",
            "Messages seen again (redelivered by the platform) and skipped.",
            ["channel"],
        )
        self._cases = counter(
            "cases_submitted", "Cases submitted, per mission and kind.", ["mission", "kind"]
        )
        self._errors = counter(
            "errors",
            "Batches the database refused (database) and messages that broke (message).",
            ["kind"],
        )
        self._untrusted = counter(
            "untrusted_key_refusals",
            "Submissions held because a public key did not verify (keys verify), per kind.",
            ["key_kind"],
        )

    def committed(self, tally: BatchTally) -> None:
        for channel, count in tally.messages.items():
            self._messages.labels(channel=channel).inc(count)
        for channel, count in tally.duplicates.items():
            self._duplicates.labels(channel=channel).inc(count)
        for (mission, kind), count in tally.cases.items():
            self._cases.labels(mission=mission, kind=kind).inc(count)
        for key_kind, count in tally.untrusted.items():
            self._untrusted.labels(key_kind=key_kind).inc(count)

    def error(self, kind: str) -> None:
        self._errors.labels(kind=kind).inc()

    def families(self) -> list[Family]:
        return list(self._registry.collect())


class LogCounter(logging.Handler):
    """Counts warnings and errors per logger: every component's failures, at no cost to them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._registry = CollectorRegistry(auto_describe=False)
        self._records = Counter(
            PREFIX + "log_records",
            "Warnings and errors logged, per level and logger.",
            ["level", "logger"],
            registry=self._registry,
        )

    def emit(self, record: logging.LogRecord) -> None:
        self._records.labels(level=record.levelname.lower(), logger=record.name).inc()

    def families(self) -> list[Family]:
        return list(self._registry.collect())
