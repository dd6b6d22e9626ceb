from __future__ import annotations

from intake.storage.channel_state import ChannelStateStore
from tests.support.scan import files_under, leaks
from tests.support.setup import Setup


def test_values_round_trip_and_are_sealed(setup: Setup) -> None:
    store = ChannelStateStore("matrix", setup.sessions, setup.cipher, setup.clock)
    assert store.get("access_token") is None
    store.put("access_token", b"CANARY-TOKEN-123")
    store.put("access_token", b"CANARY-TOKEN-456")
    assert store.get("access_token") == b"CANARY-TOKEN-456"
    other = ChannelStateStore("telegram", setup.sessions, setup.cipher, setup.clock)
    assert other.get("access_token") is None
    store.delete("access_token")
    assert store.get("access_token") is None


def test_nothing_readable_on_disk(primary_setup: Setup) -> None:
    store = ChannelStateStore(
        "matrix", primary_setup.sessions, primary_setup.cipher, primary_setup.clock
    )
    store.put("sync_token", b"CANARY-SYNC-789")
    assert leaks(["CANARY-SYNC-789"], files_under(primary_setup.settings.home)) == []
