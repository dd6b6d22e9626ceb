"""Composition helpers: build the application's objects from the settings.

Only the CLI calls these (it is the composition root); tests call them too
so that they exercise the same wiring operators run.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine as DbEngine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from crypto import KdfParams, Keyring, create_keyring_file, load_keyring
from flows import Catalog, CountryMatcher, load_catalog, load_specs
from flows import Engine as FlowEngine
from intake.config import Settings
from intake.core.background import checkin_policy
from intake.core.config_check import check_routing
from intake.core.service import ConversationService
from intake.errors import SetupError
from intake.keys.admin import KeyDesk
from intake.keys.directory import KeyDirectory
from intake.keys.draft_epochs import DraftEpochs, DraftWindow
from intake.keys.holders import active_recovery_key
from intake.keys.keyring_admin import pin_recovery_key, update_keyring_file
from intake.keys.readers import missions_without_officers
from intake.keys.recovery import RECOVERY_FILE_NAME, create_recovery_key
from intake.runtime.metrics import ServiceMetrics
from intake.storage import audit, key_usage, migrate
from intake.storage.audit import AuditTrail
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.records import RecordCipher
from intake.triage.case_file import CaseRenderer
from intake.triage.desk import CaseDesk
from intake.triage.logins import LoginDesk
from intake.triage.missions import (
    DEMO_DIRECTORY,
    import_directory,
    list_missions,
    read_directory,
)
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


def build_flow_engine(
    settings: Settings, catalog: Catalog, places: CountryMatcher | None = None
) -> FlowEngine:
    return FlowEngine(
        load_specs(catalog=catalog),
        catalog,
        places or CountryMatcher(catalog.languages),
        duress_words=settings.duress_words,
    )


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



def build_service(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    clock: Callable[[], datetime] = utcnow,
    metrics: ServiceMetrics | None = None,
    places: CountryMatcher | None = None,
) -> ConversationService:
    """The conversation service; `places`: a matcher being prepared (`serve`), else a new one.

    Raises:
        ConfigError: the routing names a mission, kind, category, urgency, country or
            language that does not exist (checked now, not at a defender's Send).
    """
    catalog = load_catalog()
    check_configuration(settings, sessions, catalog)
    return ConversationService(
        sessions,
        build_flow_engine(settings, catalog, places),
        catalog,
        cipher,
        settings.routing,
        clock,
        default_language=settings.default_language,
        draft_idle=timedelta(hours=settings.draft_idle_hours),
        # Telegram bot chats are not end-to-end encrypted: say so once. On Signal:
        # the timer the channel sets, and what Signal shows to whom.
        first_contact_notices={
            "telegram": "notice.telegram_not_e2e",
            "signal": "notice.signal_first_contact",
        },
        max_attachment_bytes=settings.max_attachment_mb * 1024 * 1024,
        notify={
            channel: chat
            for channel, chat in (
                ("telegram", settings.notifications.telegram_chat),
                ("matrix", settings.notifications.matrix_room),
                ("signal", settings.notifications.signal_group),
            )
            if chat
        },
        audit_checkpoint=settings.audit_checkpoint,
        metrics=metrics,
        checkin_policy=checkin_policy(settings),
        draft_epochs=build_draft_epochs(settings, cipher),
    )



def check_configuration(
    settings: Settings, sessions: sessionmaker[Session], catalog: Catalog
) -> None:
    """The routing against the missions directory and the flows (see `intake.core.config_check`).

    Raises:
        ConfigError: naming each value and its TOML key.
    """
    with sessions() as session:
        missions = {mission.id for mission in list_missions(session)}
    check_routing(settings, load_specs(catalog=catalog), missions)


def _write_secret(path: Path, value: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class InitReport:
    created_keyring: bool
    generated_passphrase: Path | None
    schema_revision: str | None
    missions_added: int
    recovery_key_file: Path | None
    # Missions no active officer can open cases of yet (`officers add --mission ID`).
    without_officers: tuple[str, ...] = ()


def initialise(settings: Settings, demo: bool, kdf: KdfParams | None = None) -> InitReport:
    """Create the home folder, the keyring, the schema and (with `demo`) demo missions.

    Idempotent: an existing keyring is kept and the schema only upgraded.
    """
    settings.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    generated: Path | None = None
    secret: bytes | None = None
    if not settings.keyring.path.exists():
        passphrase = (
            settings.keyring.passphrase.get_secret_value()
            if settings.keyring.passphrase is not None
            else None
        )
        if passphrase is None:
            generated = settings.home / "keyring.passphrase"
            passphrase = secrets.token_urlsafe(32)
            _write_secret(generated, passphrase)
        secret = passphrase.encode("utf-8")
        create_keyring_file(settings.keyring.path, secret, utcnow(), kdf or KdfParams())
        created = True
    engine = make_engine(settings.database_url)
    try:
        migrate.upgrade(engine)
        added = 0
        recovery_file: Path | None = None
        with make_session_factory(engine).begin() as session:
            if demo:
                added, _ = import_directory(session, read_directory(DEMO_DIRECTORY), utcnow())
            if active_recovery_key(session) is None:
                recovery_file = settings.home / RECOVERY_FILE_NAME
                secret = secret or keyring_passphrase(settings)

                def pin(public_key: bytes) -> None:
                    # The keyring pins it: sealing will use no other recovery key.
                    pin_recovery_key(settings.keyring.path, secret, public_key)

                create_recovery_key(session, recovery_file, utcnow(), pin)
            without = tuple(missions_without_officers(session))
        revision = migrate.current_revision(engine)
    finally:
        engine.dispose()
    return InitReport(created, generated, revision, added, recovery_file, without)


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
) -> LoginDesk:
    """The web console's login desk (passphrase, second factors, enrolment, lockout)."""
    return LoginDesk(sessions, cipher, AuditTrail(sessions, settings.audit_checkpoint), clock)


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
