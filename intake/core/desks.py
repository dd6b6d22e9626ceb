"""The light half of the composition root: the database, the keyring and the desks.

What every officers' and security staff's command stands on: the database (at
the current schema), the keyring file and the record cipher on it, and the desks
officers and staff act through (`queue`, `officers`, `keys`, `audit`, the web
console). The conversation service and `init` are built in `intake.core.app`,
which imports the conversation stack (service, drafts, file cleaning with Pillow
and pikepdf, metrics, check-in scheduler) that these commands have no use for:
kept apart, they start without it. `app` builds on this module and re-exports
nothing of it; entry points import each builder from where it is defined.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine as DbEngine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crypto import KdfParams, Keyring, load_keyring
from flows import CountryMatcher, load_catalog, load_specs
from intake.config import Settings
from intake.errors import SetupError
from intake.keys.admin import KeyDesk
from intake.keys.directory import KeyDirectory
from intake.keys.draft_epochs import DraftEpochs, DraftWindow
from intake.keys.keyring_admin import update_keyring_file
from intake.storage import audit, key_usage, migrate
from intake.storage.audit import AuditTrail
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.records import RecordCipher
from intake.triage.case_file import CaseRenderer
from intake.triage.desk import CaseDesk
from intake.triage.logins import LoginDesk
from intake.triage.staff import StaffDesk
from intake.triage.throttle import AttemptLimiter, SignInThrottle

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class KeyringHolder:
    """The current keyring, reloaded when its file changes (rotation without restart).

    Checks the file's modification time at most once per `interval` seconds.
    """

    def __init__(self, path: Path, passphrase: bytes, interval: float = 1.0) -> None:
        self._path = path
        self._passphrase = passphrase
        self._interval = interval
        self._keyring = load_keyring(path, passphrase)
        self._mtime = path.stat().st_mtime_ns
        self._checked = time.monotonic()

    def adopt(self, keyring: Keyring) -> None:
        """Use a keyring this process just wrote to the file (no reload needed)."""
        self._keyring = keyring
        self._mtime = self._path.stat().st_mtime_ns

    def update(self, change: Callable[[Keyring], Keyring]) -> Keyring:
        """Change the keyring file under its lock, and use the result at once."""
        keyring = update_keyring_file(self._path, self._passphrase, change)
        self.adopt(keyring)
        return keyring

    def __call__(self) -> Keyring:
        now = time.monotonic()
        if now - self._checked >= self._interval:
            self.refresh()
        return self._keyring

    def refresh(self) -> Keyring:
        """Check the file now (a key the keyring may just have pinned, say), reloading if it changed."""
        self._checked = time.monotonic()
        mtime = self._path.stat().st_mtime_ns
        if mtime != self._mtime:
            self._keyring = load_keyring(self._path, self._passphrase)
            self._mtime = mtime
            log.info("keyring reloaded")
        return self._keyring


def keyring_passphrase(settings: Settings) -> bytes:
    if settings.keyring.passphrase is None:
        raise SetupError(
            "no keyring passphrase: set HRD_INTAKE_KEYRING_PASSPHRASE or "
            "HRD_INTAKE_KEYRING_PASSPHRASE_FILE, or run `hrd-intake init`"
        )
    return settings.keyring.passphrase.get_secret_value().encode("utf-8")


def open_keyring(settings: Settings) -> KeyringHolder:
    if not settings.keyring.path.exists():
        raise SetupError(f"no keyring at {settings.keyring.path}: run `hrd-intake init` first")
    return KeyringHolder(settings.keyring.path, keyring_passphrase(settings))


def build_cipher(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
) -> RecordCipher:
    """The record cipher on the keyring file, counting its wraps in these sessions' commits."""
    cipher = RecordCipher(open_keyring(settings))
    key_usage.track(sessions, cipher.usage, clock)
    # The audit chain and its checkpoint are keyed under this keyring.
    audit.authenticate_with(sessions, cipher.keyring, cipher.fresh_keyring)
    return cipher


def open_database(
    settings: Settings, require_schema: bool = False
) -> tuple[DbEngine, sessionmaker[Session]]:
    """Connect; with `require_schema`, refuse a missing or outdated schema with the fix to run.

    Raises:
        SetupError: no database yet, or migrations pending.
    """
    url = make_url(settings.database_url)
    if require_schema and url.get_backend_name() == "sqlite" and url.database:
        if not Path(url.database).exists():
            raise SetupError(f"no database at {url.database}: run `hrd-intake init` first")
    engine = make_engine(settings.database_url)
    if require_schema:
        try:
            current = migrate.current_revision(engine)
        except OperationalError as exc:
            engine.dispose()
            raise SetupError(f"cannot reach the database: {exc.orig}") from exc
        if current is None:
            engine.dispose()
            raise SetupError(
                "the database has no schema yet: run `hrd-intake init` "
                "(or `hrd-intake db upgrade` where the keyring exists)"
            )
        if current != migrate.head_revision():
            engine.dispose()
            raise SetupError(
                f"the database schema is at {current or 'nothing'}, the code needs "
                f"{migrate.head_revision()}: run `hrd-intake db upgrade` (or `init`)"
            )
    return engine, make_session_factory(engine)


def build_draft_epochs(settings: Settings, cipher: RecordCipher) -> DraftEpochs | None:
    """Draft-epoch keys of the keyring file behind `cipher` (None for an in-memory keyring)."""
    source = cipher.keyring_source
    if not isinstance(source, KeyringHolder):
        return None
    window = DraftWindow(
        epoch=timedelta(minutes=settings.keys.draft_epoch_minutes),
        idle=timedelta(hours=settings.draft_idle_hours),
    )
    return DraftEpochs(source, source.update, window)


def build_desk(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    clock: Callable[[], datetime] = utcnow,
) -> CaseDesk:
    """The officers' case desk (CLI and web), rendering replies as the bot words them
    and cases through the one case renderer.

    The catalogs, specs and place names load on first use (about a second): listing
    the queue needs none of them.
    """
    catalog = functools.cache(load_catalog)

    def render_reply(language: str, reference: str, text: str) -> str:
        return catalog().text(language, "reply.from_officer", reference=reference, text=text)

    def renderer() -> CaseRenderer:
        return CaseRenderer(
            catalog(), load_specs(catalog=catalog()), CountryMatcher(catalog().languages)
        )

    return CaseDesk(
        sessions,
        cipher,
        AuditTrail(sessions, settings.audit_checkpoint),
        clock,
        render_reply,
        renderer,
    )


def build_logins(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    clock: Callable[[], datetime] = utcnow,
    kdf: KdfParams | None = None,
) -> LoginDesk:
    """The web console's login desk (passphrase, second factors, enrolment, lockout).

    `kdf`: the Argon2id cost of officers' keys, for the decoy of logins without an
    officer (default: the production one; tests that enrol cheaply pass theirs).
    """
    trail = AuditTrail(sessions, settings.audit_checkpoint)
    return LoginDesk(sessions, cipher, trail, clock, kdf)


def build_login_throttle(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
) -> SignInThrottle:
    """The web console's limit on sign-in attempts per client address (`[web] login_*`)."""
    refill = timedelta(seconds=settings.web.login_refill_seconds)
    limiter = AttemptLimiter(settings.web.login_attempts, refill, clock)
    return SignInThrottle(limiter, sessions, AuditTrail(sessions, settings.audit_checkpoint), clock)


def build_staff_desk(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    clock: Callable[[], datetime] = utcnow,
    kdf: KdfParams | None = None,
) -> StaffDesk:
    """Security staff's officer desk (enrol, revoke, rotate, passphrase)."""
    return StaffDesk(
        sessions,
        lambda: KeyDirectory(cipher.keyring()),
        AuditTrail(sessions, settings.audit_checkpoint),
        clock,
        kdf,
    )


def build_key_desk(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
) -> KeyDesk:
    """Security staff's key desk (keyring, recovery and mission keys, rewrap, verify, purge)."""
    return KeyDesk(
        sessions,
        AuditTrail(sessions, settings.audit_checkpoint),
        clock,
        settings.keyring.path,
        lambda: keyring_passphrase(settings),
    )
