"""Reading whole tables a page at a time, for `keys verify`.

Keyset pagination on the primary key keeps memory flat: rows inserted
meanwhile are simply seen or not, none is seen twice. Each page is read in a
fresh session, open while the caller handles the page; a `sample` reads one
random page of that many rows instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import ColumnElement, Select, func, select, tuple_
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session, sessionmaker

from intake.storage.models import Case, CaseEvent, MissionKey
from intake.storage.wrapped_keys import WrappedTable

PAGE = 1000

AnySelect: TypeAlias = Select[*tuple[Any, ...]]
AnyRow: TypeAlias = Row[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class SealedCase:
    """A case whose data key is sealed (no server copy): what verifying it needs."""

    id: str
    reference: str
    mission_id: str
    payload_ct: bytes


@dataclass(frozen=True, slots=True)
class SealedEvent:
    """A case event, with the mission of its case (its key is sealed to that mission)."""

    id: str
    mission_id: str
    body_ct: bytes


@dataclass(frozen=True, slots=True)
class MissionPublicKey:
    """One mission key version's public half."""

    mission_id: str
    version: int
    public_key: bytes


def _pages(
    sessions: sessionmaker[Session],
    query: AnySelect,
    key_columns: Sequence[Any],
    sample: int | None,
    page: int,
) -> Iterator[tuple[Session, list[AnyRow]]]:
    if sample is not None:
        with sessions() as session:
            yield session, list(session.execute(query.order_by(func.random()).limit(sample)))
        return
    ordered = query.order_by(*key_columns).limit(page)
    last: tuple[object, ...] | None = None
    while True:
        page_query = ordered
        if last is not None:
            page_query = ordered.where(_after(key_columns, last))
        with sessions() as session:
            rows = list(session.execute(page_query))
            if not rows:
                return
            yield session, rows
        last = tuple(rows[-1][i] for i in range(len(key_columns)))


def _after(key_columns: Sequence[Any], last: tuple[object, ...]) -> ColumnElement[bool]:
    if len(key_columns) == 1:
        return key_columns[0] > last[0]  # type: ignore[no-any-return]
    return tuple_(*key_columns) > tuple_(*last)


def keyring_record_pages(
    sessions: sessionmaker[Session], spec: WrappedTable, sample: int | None, page: int = PAGE
) -> Iterator[list[AnyRow]]:
    """Pages of a keyring-wrapped table's rows that carry a wrapped key.

    Each row has the key columns, `kek_version`, `dek_wrapped` and the
    ciphertext columns of `spec.fields`, as attributes.
    """
    table = spec.table
    keys = [table.c[c] for c in spec.key_columns]
    fields = [table.c[column] for column in spec.fields.values()]
    query = select(*keys, table.c.kek_version, table.c.dek_wrapped, *fields).where(
        table.c.dek_wrapped.is_not(None)
    )
    for _, rows in _pages(sessions, query, keys, sample, page):
        yield rows


def sealed_case_pages(
    sessions: sessionmaker[Session], sample: int | None, page: int = PAGE
) -> Iterator[tuple[Session, list[SealedCase]]]:
    """Pages of sealed cases, with the session each page was read in."""
    query = select(Case.id, Case.reference, Case.mission_id, Case.payload_ct).where(
        Case.dek_wrapped.is_(None)
    )
    for session, rows in _pages(sessions, query, [Case.id], sample, page):
        yield session, [SealedCase(r.id, r.reference, r.mission_id, r.payload_ct) for r in rows]


def event_pages(
    sessions: sessionmaker[Session], sample: int | None, page: int = PAGE
) -> Iterator[tuple[Session, list[SealedEvent]]]:
    """Pages of case events, with the session each page was read in."""
    query = select(CaseEvent.id, Case.mission_id, CaseEvent.body_ct).join(
        Case, Case.id == CaseEvent.case_id
    )
    for session, rows in _pages(sessions, query, [CaseEvent.id], sample, page):
        yield session, [SealedEvent(r.id, r.mission_id, r.body_ct) for r in rows]


def mission_key_pages(
    sessions: sessionmaker[Session], sample: int | None, page: int = PAGE
) -> Iterator[tuple[Session, list[MissionPublicKey]]]:
    """Pages of mission key versions, with the session each page was read in."""
    query = select(MissionKey.mission_id, MissionKey.version, MissionKey.public_key)
    keys = [MissionKey.mission_id, MissionKey.version]
    for session, rows in _pages(sessions, query, keys, sample, page):
        yield session, [MissionPublicKey(r.mission_id, r.version, r.public_key) for r in rows]
