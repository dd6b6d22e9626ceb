"""Channel adapters: platform updates in, neutral messages to the core, replies out.

Public names (what the composition root in `intake.cli` uses):

- `Core`: the protocol of what channels call of the core (`bots.core`).
- `Channel`, `run_channels`: one running channel and running several (`bots.runner`).
- `LeasedChannel`: a channel run only while its lease is held (`bots.leased`).
- `ConsoleChannel`: the terminal channel for `hrd-intake chat` (`bots.console`).
- `bots.telegram.channel.build_telegram`, `bots.matrix.channel.build_matrix`: the
  platform channels, imported from their packages so that a setup without them
  does not load python-telegram-bot or matrix-nio.

Shared by the platform channels: `bots.deliveries` (officer replies and
notifications, at least once, with backoff), `bots.ratelimit` (the per-sender
token bucket, Telegram's and Signal's).
"""

from bots.console import ConsoleChannel
from bots.core import Core
from bots.leased import LeasedChannel
from bots.runner import Channel, run_channels

__all__ = ["Channel", "ConsoleChannel", "Core", "LeasedChannel", "run_channels"]
