"""The running service destroys draft-epoch keys past the window on its own, hourly."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from crypto import Keyring, load_keyring
from intake.cli.serve import shred_periodically
from intake.core import desks
from tests.support.setup import Setup


def test_serve_destroys_old_epoch_keys_and_keeps_going(setup: Setup) -> None:
    epochs = desks.build_draft_epochs(setup.settings, setup.cipher)
    assert epochs is not None
    path, passphrase = setup.settings.keyring.path, desks.keyring_passphrase(setup.settings)
    window = epochs.window
    start = load_keyring(path, passphrase).versions("draft")[0].created_at
    # Given epochs that turned while the service ran (two hours apart)...
    clock = [start + timedelta(hours=2)]
    epochs.ensure_current(clock[0])
    assert len(load_keyring(path, passphrase).versions("draft")) == 2

    async def run() -> None:
        task = asyncio.create_task(
            shred_periodically(setup.sessions, epochs, interval=0.01, clock=lambda: clock[0])
        )
        await asyncio.sleep(0.2)  # several rounds: nothing is due yet
        assert load_keyring(path, passphrase).versions("draft")[0].version == 1
        # ...when the window has passed since the first epoch ended, it is destroyed.
        clock[0] = start + timedelta(hours=2) + window.idle + window.epoch
        for _ in range(200):
            await asyncio.sleep(0.01)
            if load_keyring(path, passphrase).versions("draft")[0].version != 1:
                break
        task.cancel()

    asyncio.run(run())
    keyring: Keyring = load_keyring(path, passphrase)
    assert 1 not in [e.version for e in keyring.versions("draft")]
    assert keyring.has_primary("draft")
