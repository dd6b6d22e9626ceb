"""What every subcommand shares: settings, logging, errors, output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError
from intake import app
from intake.config import ConfigError, Settings, load_settings
from intake.logs import setup_logging
from intake.records import RecordCipher

EXIT_REFUSED = 1
EXIT_SETUP = 3

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily built objects for one CLI invocation."""

    def __init__(self) -> None:
        self.console = Console()
        self.errors = Console(stderr=True)

    @cached_property
    def settings(self) -> Settings:
        try:
            settings = load_settings()
        except ConfigError as exc:
            fail(str(exc), EXIT_SETUP)
        setup_logging(settings.log_path, settings.log_format, settings.log_level)
        return settings

    @cached_property
    def database(self) -> tuple[Engine, sessionmaker[Session]]:
        return app.open_database(self.settings)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database[1]

    @cached_property
    def cipher(self) -> RecordCipher:
        try:
            return RecordCipher(app.open_keyring(self.settings))
        except app.SetupError as exc:
            fail(str(exc), EXIT_SETUP)
        except CryptoError as exc:
            fail(f"cannot open the keyring: {exc}", EXIT_SETUP)


pass_context = click.make_pass_decorator(Context, ensure=True)


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@contextmanager
def refusals(*errors: type[Exception], code: int = EXIT_REFUSED) -> Iterator[None]:
    """Turn the listed exceptions into a one-line error and an exit code."""
    try:
        yield
    except errors as exc:
        fail(str(exc), code)
