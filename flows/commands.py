"""Global commands: ``/help`` or ``!help``, in any case, at any step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Command", "ParsedCommand", "parse_command"]


class Command(StrEnum):
    START = "start"
    HELP = "help"
    BACK = "back"
    CANCEL = "cancel"
    LANGUAGE = "language"
    DELETE = "delete"
    STATUS = "status"


_ALIASES = {"menu": Command.START, "lang": Command.LANGUAGE, "wipe": Command.DELETE}
# One word after / or !; Telegram may append "@BotName" to a command. Only
# /status takes an argument (the case reference the defender kept).
_COMMAND_RE = re.compile(
    r"^[/!]([A-Za-z][A-Za-z_]{0,31})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(\S.{0,39}))?$", re.DOTALL
)
_TAKES_ARGUMENT = frozenset({"status"})


@dataclass(frozen=True)
class ParsedCommand:
    """A command-looking message; ``command`` is None when it is not one we know."""

    word: str
    command: Command | None
    argument: str | None = None


def parse_command(text: str) -> ParsedCommand | None:
    """The command ``text`` is, or None when it is an ordinary answer."""
    found = _COMMAND_RE.match(text.strip())
    if found is None:
        return None
    word = found[1].lower()
    argument = found[2].strip() if found[2] else None
    if argument is not None and word not in _TAKES_ARGUMENT:
        return None  # "/start something" is not a command we know: an ordinary answer
    try:
        return ParsedCommand(word, Command(word), argument)
    except ValueError:
        return ParsedCommand(word, _ALIASES.get(word))
