"""Where data keys wrapped under the server keyring live: one entry per table.

Every such record has `dek_wrapped` (its data key under a KEK version) and
`kek_version` (that version, as a column so rotation finds the rows still on
an old one). Cases lose both once sealed to their mission; attachments once
their key moved into the case payload; inbox messages (Signal) once answered
and sent (only their digest stays): NULL rows need no KEK.

Rewrap, retire, status and verify all walk this list, so a new keyring-wrapped
table is added here once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Row, Table, func, select, tuple_
from sqlalchemy.orm import Session

from intake.storage.inbox import RECORD_TYPE as INBOX_RECORD
from intake.storage.models import (
    Attachment,
    Case,
    ChannelItem,
    ChannelState,
    Checkin,
    Conversation,
    Delivery,
    InboxMessage,
)


@dataclass(frozen=True)
class WrappedTable:
    """A table whose rows carry a keyring-wrapped data key.

    Attributes:
        table: the Core table.
        record_type: the record type the keys and fields are bound to.
        key_columns: the primary key's columns.
        fields: binding field name -> ciphertext column, what `keys verify` opens.
        optional: fields whose column may be NULL while the row holds a data key
            (an inbox message has its payload until answered, then its replies);
            `keys verify` opens those present and wants at least one.
    """

    table: Table
    record_type: str
    key_columns: tuple[str, ...]
    fields: Mapping[str, str]
    optional: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.table.name

    def record_id(self, row: Any) -> str:
        """The id the row's ciphertexts are bound to (channel state: "channel/key")."""
        return "/".join(str(getattr(row, column)) for column in self.key_columns)

    def key_of(self, row: Any) -> tuple[object, ...]:
        return tuple(getattr(row, column) for column in self.key_columns)

    def key_expression(self) -> ColumnElement[Any]:
        """The primary key as one SQL expression (a row value when composite)."""
        columns = [self.table.c[column] for column in self.key_columns]
        if len(columns) == 1:
            return columns[0]
        return tuple_(*columns)

    def key_params(self, key: tuple[object, ...]) -> object:
        return key[0] if len(key) == 1 else key


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)  # noqa: S101 - declarative models map to tables
    return table


WRAPPED_TABLES: tuple[WrappedTable, ...] = (
    WrappedTable(
        _table(Conversation), "conversation", ("id",), {"chat": "chat_ct", "state": "state_ct"}
    ),
    WrappedTable(_table(Case), "case", ("id",), {"payload": "payload_ct"}),
    WrappedTable(_table(Attachment), "attachment", ("id",), {"meta": "meta_ct", "data": "data_ct"}),
    WrappedTable(_table(Delivery), "delivery", ("id",), {"body": "body_ct"}),
    WrappedTable(_table(ChannelState), "channel_state", ("channel", "key"), {"value": "value_ct"}),
    WrappedTable(
        _table(ChannelItem), "channel_item", ("channel", "kind", "item"), {"value": "value_ct"}
    ),
    # The link to the check-in's alert case; its details are sealed to the mission instead.
    WrappedTable(_table(Checkin), "checkin", ("id",), {"link": "link_ct"}),
    # Messages kept before processing (Signal), until answered and sent; pending ones
    # may wait through a rotation (the bot was down), so rewrap and retire cover them.
    WrappedTable(
        _table(InboxMessage),
        INBOX_RECORD,
        ("id",),
        {"payload": "payload_ct", "answer": "answer_ct"},
        optional=frozenset({"payload", "answer"}),
    ),
)


def records_per_version(session: Session) -> dict[int, dict[str, int]]:
    """KEK version -> table -> how many records it protects now."""
    found: dict[int, dict[str, int]] = {}
    for spec in WRAPPED_TABLES:
        column = spec.table.c.kek_version
        rows = session.execute(
            select(column, func.count()).where(column.is_not(None)).group_by(column)
        )
        for version, count in rows:
            found.setdefault(int(version), {})[spec.name] = int(count)
    return found


def records_on_version(session: Session, version: int) -> dict[str, int]:
    """Table -> how many records still need this KEK version (tables with none left out)."""
    found = {}
    for spec in WRAPPED_TABLES:
        count = session.scalar(
            select(func.count()).select_from(spec.table).where(spec.table.c.kek_version == version)
        )
        if count:
            found[spec.name] = int(count)
    return found


def records_not_on(session: Session, primary: int) -> int:
    """How many keyring-wrapped records are on another KEK version than `primary`."""
    total = 0
    for spec in WRAPPED_TABLES:
        column = spec.table.c.kek_version
        total += int(
            session.scalar(
                select(func.count())
                .select_from(spec.table)
                .where(column.is_not(None), column != primary)
            )
            or 0
        )
    return total


def kek_versions_other_than(session: Session, spec: WrappedTable, primary: int) -> list[int]:
    """The KEK versions other than `primary` that rows of this table are on (no order)."""
    column = spec.table.c.kek_version
    versions = session.scalars(
        select(column).where(column.is_not(None), column != primary).distinct()
    )
    return [int(version) for version in versions]


def rows_on_kek_version(
    session: Session,
    spec: WrappedTable,
    version: int,
    limit: int,
    skip: Sequence[tuple[object, ...]] | None = None,
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Up to `limit` rows still on `version`: their key columns and `dek_wrapped`.

    Args:
        skip: primary keys left out of the selection.
    """
    table = spec.table
    query = (
        select(*(table.c[c] for c in spec.key_columns), table.c.dek_wrapped)
        .where(table.c.kek_version == version)
        .limit(limit)
    )
    if skip:
        query = query.where(spec.key_expression().not_in([spec.key_params(k) for k in skip]))
    return session.execute(query).all()


_UPDATES: dict[tuple[str, str], str] = {}


def _update_sql(spec: WrappedTable, dialect: Dialect) -> str:
    """UPDATE ... WHERE key = ? AND kek_version = ? AND dek_wrapped = ?, for the driver (cached).

    Sent with `exec_driver_sql` as one executemany: SQLAlchemy's per-row
    parameter processing would cost more than the rewrap's cryptography.
    Identifiers come from the models and are quoted by the dialect; values
    are always bound parameters. Parameters: new wrapped key, new version,
    the key columns, old version, old wrapped key.
    """
    cached = _UPDATES.get((spec.name, dialect.name))
    if cached is None:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        keys = " AND ".join(f"{quote(column)} = {mark}" for column in spec.key_columns)
        cached = (
            f"UPDATE {quote(spec.name)} SET dek_wrapped = {mark}, kek_version = {mark}"  # noqa: S608
            f" WHERE {keys} AND kek_version = {mark} AND dek_wrapped = {mark}"
        )
        _UPDATES[(spec.name, dialect.name)] = cached
    return cached


def update_wrapped_keys(
    session: Session, spec: WrappedTable, changes: Sequence[tuple[Any, ...]]
) -> int:
    """Apply rewraps where each row still holds the wrapped key read; returns rows changed.

    Each change is (new wrapped key, new version, *key columns, old version,
    old wrapped key): a row changed meanwhile is left alone.
    """
    connection = session.connection()
    result = connection.exec_driver_sql(_update_sql(spec, connection.dialect), list(changes))
    return int(result.rowcount)
