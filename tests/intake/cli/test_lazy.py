"""What starting a command imports (structure, not timing), and the lazy groups' tables.

Each `hrd-intake` run used to import every command's module, and with them the
bots, the web server, Alembic and the conversation stack. These tests fail when
a module-level import brings one of them back onto the officers' commands.
"""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from intake.cli.lazy import LazyGroup
from intake.cli.main import cli

# Packages no officers' or security staff's command needs to start: the bots'
# libraries, the web console's, Alembic (and the Mako and Pygments it imports),
# file cleaning, metrics, QR codes.
HEAVY = (
    "nio", "telegram", "aiohttp", "uvicorn", "starlette", "jinja2", "webauthn", "alembic",
    "mako", "pygments", "PIL", "pikepdf", "prometheus_client", "segno",
)  # fmt: skip
# The conversation stack: what `serve` and `chat` build, not the desks.
CONVERSATION = ("intake.core.app", "intake.core.service", "intake.core.files", "intake.web")


def _loaded_after(statements: str) -> list[str]:
    """The heavy packages and conversation modules a fresh interpreter holds after `statements`."""
    report = f"""
import json, sys
{statements}
print(json.dumps(sorted(
    name for name in sys.modules
    if name.split(".")[0] in {HEAVY!r} or name in {CONVERSATION!r}
)))
"""
    done = subprocess.run(
        [sys.executable, "-c", report], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_the_command_line_module_imports_nothing_heavy() -> None:
    assert _loaded_after("import intake.cli.main") == []


def test_the_officers_commands_load_without_the_bots_web_or_conversations() -> None:
    # Given the commands officers and security staff run many times a day,
    # When each is looked up as running it looks it up (its module imported),
    # Then none of them brought the heavy packages along.
    commands = [
        ["queue"],
        ["queue", "list"],
        ["queue", "show"],
        ["keys", "status"],
        ["keys", "rewrap"],
        ["keys", "verify"],
        ["keys", "authenticate"],
        ["officers", "list"],
        ["officers", "web-enrol"],
        ["audit", "verify"],
        ["missions", "list"],
    ]
    assert _loaded_after(f"""
import click
from intake.cli.main import cli
for path in {commands!r}:
    command = cli
    for name in path:
        command = command.get_command(click.Context(command), name)
    assert command is not None, path
""") == []


def _walk(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    found = []
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None, (*path, name)
        found.append(((*path, name), command.name or ""))
        if isinstance(command, click.Group):
            found.extend(_walk(command, (*path, name)))
    return found


def test_every_lazy_subcommand_loads_under_the_name_it_is_listed_by() -> None:
    listed = _walk(cli)
    assert [path for path, name in listed if path[-1] != name] == []
    paths = {path for path, _ in listed}
    # The two subcommands defined in another module than their group's:
    assert {("keys", "status"), ("officers", "web-enrol")} <= paths


def test_a_lazy_entry_that_is_not_a_command_is_refused_with_its_path() -> None:
    group = LazyGroup(lazy_subcommands={"oops": "intake.cli.main.SUBCOMMANDS"})
    with pytest.raises(TypeError, match=r"intake\.cli\.main\.SUBCOMMANDS is a dict"):
        group.get_command(click.Context(group), "oops")
