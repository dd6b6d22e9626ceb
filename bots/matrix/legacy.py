"""Moving a legacy file store (nio's `SqliteStore` in a folder) into the database, once.

Before the store moved into the database, nio kept the bot's Olm account,
sessions, room keys, devices (with defenders' ids in plaintext) and rooms in
`<folder>/<user>_<device>.db`. At the first start after the upgrade its
content is copied into the database store, and then the files are deleted
(SQLite's `secure_delete` was on in that file, so freed pages were zeroed).
Killed half-way, the copy runs again: the database store is only written,
the files are only deleted, after a complete read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nio.store import SqliteStore  # type: ignore[import-untyped]

from bots.matrix.store import DatabaseStore, ItemStore

__all__ = ["move_legacy_store"]

log = logging.getLogger(__name__)


def move_legacy_store(
    folder: Path, items: ItemStore, user_id: str, device_id: str, pickle_key: str
) -> bool:
    """Copy the device's file store into `items` and delete the files; True if one was moved.

    Does database and file I/O: call it from a worker thread.
    """
    database = folder / f"{user_id}_{device_id}.db"
    if not database.is_file():
        return False
    target = DatabaseStore(items, user_id, device_id, pickle_key)
    if target.load_account() is None:
        legacy = SqliteStore(user_id, device_id, str(folder), pickle_key)
        try:
            account = legacy.load_account()
            if account is not None:
                sessions = legacy.load_sessions()
                groups = legacy.load_inbound_group_sessions()
                devices = legacy.load_device_keys()
                rooms = legacy.load_encrypted_rooms()
                requests = legacy.load_outgoing_key_requests()
                target.save_account(account)
                for sender_key, olm_sessions in sessions.items():
                    for session in olm_sessions:
                        target.save_session(sender_key, session)
                for group in groups:
                    target.save_inbound_group_session(group)
                target.save_device_keys({user: dict(d) for user, d in devices.items()})
                for device in devices:
                    if legacy.is_device_verified(device):
                        target.verify_device(device)
                    elif legacy.is_device_blacklisted(device):
                        target.blacklist_device(device)
                    elif legacy.is_device_ignored(device):
                        target.ignore_device(device)
                target.save_encrypted_rooms(rooms)
                for request in requests.values():
                    target.add_outgoing_key_request(request)
        finally:
            legacy.database.close()
    for path in sorted(folder.glob(f"{user_id}_{device_id}*")):
        path.unlink()
    log.info("legacy encryption store moved into the database", extra={"channel": "matrix"})
    return True
