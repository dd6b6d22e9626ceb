"""Storage contract: channels' encryption stores (`channel_items`), on both databases."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from intake.storage import counts
from intake.storage.channel_items import ChannelItemStore
from intake.storage.models import ChannelItem
from intake.storage.records import RecordCipher
from tests.support.rows import T0

ROOM = "!canary-room:localhost"
DEVICE = "@canary-user:localhost|PHONE"


def test_items_round_trip_sealed_under_pseudonyms(
    sessions: sessionmaker[Session], cipher: RecordCipher
) -> None:
    items = ChannelItemStore("matrix", sessions, cipher, lambda: T0)
    other = ChannelItemStore("telegram", sessions, cipher, lambda: T0)
    items.put_many("device", {DEVICE: b'{"trust":"verified"}'})
    items.put("room", ROOM, b"{}")
    items.put("room", ROOM, b'{"again":1}')  # replaced, not added
    other.put("room", ROOM, b"other channel")
    assert items.load() == {"device": {DEVICE: b'{"trust":"verified"}'}, "room": {ROOM: b'{"again":1}'}}
    with sessions() as session:
        rows = session.scalars(select(ChannelItem).where(ChannelItem.channel == "matrix")).all()
        assert len(rows) == 2
        assert all(ROOM not in row.item and ROOM.encode() not in row.value_ct for row in rows)
        assert counts.count_channel_items_on_pseudonym_version(session, 1) == 3
        assert counts.count_channel_items_on_pseudonym_version(session, 2) == 0
        assert counts.count_pseudonym_records_by_version(session)[1]["channel_items"] == 3
    items.delete("room", ROOM)
    assert set(items.load()) == {"device"}
    items.clear()
    assert items.load() == {}
    assert other.load() == {"room": {ROOM: b"other channel"}}
