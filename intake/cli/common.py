"""What every subcommand shares: settings, logging, errors, output."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import CryptoError
from intake.config import Settings, load_settings
from intake.core import desks
from intake.errors import ConfigError, SetupError
from intake.runtime.logs import setup_logging
from intake.storage import audit
from intake.storage.records import RecordCipher

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
        """The database, which must exist at the current schema (`init`, `db upgrade` make it so)."""
        try:
            engine, sessions = desks.open_database(self.settings, require_schema=not self.setting_up)
        except SetupError as exc:
            fail(str(exc), EXIT_SETUP)
        # Every audit entry and checkpoint is keyed: the keyring opens on the first one.
        audit.authenticate_with(
            sessions, lambda: self.cipher.keyring(), lambda: self.cipher.fresh_keyring()
        )
        return engine, sessions

    setting_up = False  # init and db upgrade may find no schema yet

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database[1]

    @cached_property
    def cipher(self) -> RecordCipher:
        try:
            return desks.build_cipher(self.settings, self.sessions)
        except SetupError as exc:
            fail(str(exc), EXIT_SETUP)
        except CryptoError as exc:
            fail(f"cannot open the keyring: {exc}", EXIT_SETUP)


pass_context = click.make_pass_decorator(Context, ensure=True)


def id_table(*headers: str, ids: Sequence[str]) -> Table:
    """A table whose id columns (references, officer, mission and key ids: what one types
    next) are never cut nor wrapped, and whose other columns fold rather than lose letters."""
    table = Table(*headers)
    for column in table.columns:
        if column.header in ids:
            column.no_wrap = True
            column.min_width = max(len(str(column.header)), 13)
        else:
            column.overflow = "fold"
    return table


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


def warn_if_exposed(path: Path) -> None:
    """Warn (stderr) when a secret file can be read by the group or others; still use it."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # reading it will say why
    if mode & 0o044:
        click.echo(
            f"warning: {path} is readable by others (mode {mode & 0o777:o}): it holds a secret;"
            f" `chmod 600 {path}`",
            err=True,
        )


def read_secret_file(path: Path) -> bytes:
    """A passphrase or secret from a file (trailing newline dropped); warns if others can read it."""
    warn_if_exposed(path)
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n").encode("utf-8")
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror}")


def read_passphrase(
    passphrase_file: Path | None, prompt: str, *, confirm: bool = False, use_env: bool = True
) -> bytes:
    """A passphrase from a file, the environment (automation) or a hidden prompt; never argv."""
    if passphrase_file is not None:
        return read_secret_file(passphrase_file)
    if use_env and os.environ.get("HRD_INTAKE_PASSPHRASE"):
        return os.environ["HRD_INTAKE_PASSPHRASE"].encode("utf-8")
    if use_env and os.environ.get("HRD_INTAKE_PASSPHRASE_FILE"):
        return read_secret_file(Path(os.environ["HRD_INTAKE_PASSPHRASE_FILE"]))
    if not sys.stdin.isatty():
        fail(f"{prompt}: no terminal to ask on; use --passphrase-file or HRD_INTAKE_PASSPHRASE")
    value = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
    return str(value).encode("utf-8")


passphrase_file_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the passphrase from this file (else HRD_INTAKE_PASSPHRASE, else a prompt).",
)
recovery_key_option = click.option(
    "--recovery-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The recovery key file (security staff), instead of an officer's key.",
)
