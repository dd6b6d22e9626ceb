"""A mission's statistics for reporting to headquarters, without identities.

Counts by month of submission, kind, country and state, from plaintext
columns only. A count under `SMALL` is shown as "<5": a small number next to
a month and a country can point at a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from intake.storage.queue_pages import StatRow

__all__ = ["SMALL", "MissionStatistics", "count_statistics", "shown"]

SMALL = 5


def shown(count: int) -> str:
    """A count as it may be reported: "<5" for 1 to 4 (0 stays 0)."""
    return f"<{SMALL}" if 0 < count < SMALL else str(count)


@dataclass(frozen=True)
class MissionStatistics:
    mission: str
    total: str
    by_month: tuple[tuple[str, str], ...]
    by_kind: tuple[tuple[str, str], ...]
    by_country: tuple[tuple[str, str], ...]
    by_status: tuple[tuple[str, str], ...]


def _table(counter: Counter[str]) -> tuple[tuple[str, str], ...]:
    return tuple((key, shown(value)) for key, value in sorted(counter.items()))


def count_statistics(mission: str, rows: Iterable[StatRow]) -> MissionStatistics:
    months: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    countries: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    total = 0
    for row in rows:
        total += 1
        months[f"{row.submitted_at:%Y-%m}"] += 1
        kinds[row.kind] += 1
        countries[row.country or "-"] += 1
        statuses[row.status] += 1
    return MissionStatistics(
        mission=mission,
        total=shown(total),
        by_month=_table(months),
        by_kind=_table(kinds),
        by_country=_table(countries),
        by_status=_table(statuses),
    )
