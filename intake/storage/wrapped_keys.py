"""Where data keys wrapped under the server keyring live: one entry per table.

Every such record has `dek_wrapped` (its data key under a KEK version) and
`kek_version` (that version, as a column so rotation finds the rows still on
an old one). Cases lose both once sealed to their mission; attachments once
their key moved into the case payload: NULL rows need no KEK.

Rewrap, retire, status and verify all walk this list, so a new keyring-wrapped
table is added here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select, tuple_
from sqlalchemy.orm import Session

from intake.storage.models import (
    Attachment,
    Case,
    ChannelItem,
    ChannelState,
    Conversation,
    Delivery,
)


@dataclass(frozen=True)
class WrappedTable:
    """A table whose rows carry a keyring-wrapped data key.

    Attributes:
        table: the Core table.
        record_type: the record type the keys and fields are bound to.
        key_columns: the primary key's columns.
        fields: binding field name -> ciphertext column, what `keys verify` opens.
    """

    table: Table
    record_type: str
    key_columns: tuple[str, ...]
    fields: Mapping[str, str]

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
