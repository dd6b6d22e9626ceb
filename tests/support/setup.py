"""Build a real embedded setup (keyring, migrated database, demo missions) for a test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from crypto import KdfParams
from intake.config import Settings, load_settings
from intake.core import app, desks
from intake.core.service import ConversationService
from intake.keys.directory import KeyDirectory
from intake.keys.holders import KeysAtHand
from intake.keys.recovery import RECOVERY_FILE_NAME, recovery_keys_at_hand
from intake.storage.records import RecordCipher


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


# Argon2id at its cheapest: the tests unlock keyrings and officer keys thousands of times.
CHEAP_KDF = KdfParams(memory_kib=1024, iterations=1, lanes=1)


def init_home(env: dict[str, str], kdf: KdfParams = CHEAP_KDF) -> None:
    """`hrd-intake init --demo` for the home `env` names, with a cheap keyring KDF.

    For command-line tests whose subject is not `init` itself: every later
    command then unlocks the keyring cheaply. The output of `init` is tested
    through the real command in tests/intake/cli/test_cli.py.
    """
    app.initialise(load_settings(env), demo=True, kdf=kdf)


def home_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {"HRD_INTAKE_HOME": str(home), "HRD_INTAKE_DATABASE_URL": database_url}
    env.update(extra)
    return env


@dataclass
class Setup:
    settings: Settings
    env: dict[str, str]
    engine: Engine
    sessions: sessionmaker[Session]
    cipher: RecordCipher
    clock: Clock

    @property
    def directory(self) -> KeyDirectory:
        """The key directory on the keyring as the service holds it."""
        return KeyDirectory(self.cipher.fresh_keyring())

    @property
    def recovery(self) -> KeysAtHand:
        """Security staff's recovery key, which `init` left in the home folder."""
        return recovery_keys_at_hand(self.settings.home / RECOVERY_FILE_NAME)

    def service(self) -> ConversationService:
        """A new service instance on the same database (as after a restart)."""
        return app.build_service(self.settings, self.sessions, self.cipher, clock=self.clock)


@contextmanager
def embedded_setup(
    home: Path, database_url: str, kdf: KdfParams, **extra_env: str
) -> Iterator[Setup]:
    env = home_env(home, database_url, **extra_env)
    app.initialise(load_settings(env), demo=True, kdf=kdf)
    settings = load_settings(env)  # now with the generated keyring passphrase
    engine, sessions = desks.open_database(settings)
    try:
        yield Setup(settings, env, engine, sessions, desks.build_cipher(settings, sessions), Clock())
    finally:
        engine.dispose()
