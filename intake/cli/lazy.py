"""A click group that imports a subcommand's module only when that subcommand runs.

Click's documented "LazyGroup" pattern. Every `hrd-intake` run used to import
every subcommand's module, and with them the bots, the web server, Alembic and
the conversation stack: seconds of start-up for a `queue list` that needs none
of them. Listing the commands (`--help`) still imports them all, for their help
texts; running one imports only its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """A group whose `lazy_subcommands` map a command name to "module.attribute".

    The attribute must be a click command (or group); it is imported on first use.
    """

    def __init__(
        self, *args: Any, lazy_subcommands: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_subcommands = dict(lazy_subcommands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Alphabetical across both kinds, as a plain group lists them.
        return sorted({*super().list_commands(ctx), *self.lazy_subcommands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_subcommands:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, _, attribute = self.lazy_subcommands[cmd_name].rpartition(".")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(
                f"lazy subcommand {cmd_name!r}: {self.lazy_subcommands[cmd_name]} is a "
                f"{type(command).__name__}, not a click command"
            )
        return command
