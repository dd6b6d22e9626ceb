"""The composition root's heavy half: the conversation service, and `init`.

Only the CLI calls these (it is the composition root); tests call them too
so that they exercise the same wiring operators run. What officers' and
security staff's commands need (database, keyring, cipher, desks) is built in
`intake.core.desks`, which imports none of the conversation stack that this
module does (the service, file cleaning, metrics, the check-in scheduler):
entry points import each builder from where it is defined.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from crypto import KdfParams, create_keyring_file
from flows import Catalog, CountryMatcher, load_catalog, load_specs
from flows import Engine as FlowEngine
from intake.config import Settings
from intake.core.background import checkin_policy, prepare_in_background
from intake.core.config_check import check_routing
from intake.core.desks import build_draft_epochs, keyring_passphrase, utcnow
from intake.core.service import ConversationService
from intake.keys.holders import active_recovery_key
from intake.keys.keyring_admin import pin_recovery_key
from intake.keys.readers import missions_without_officers
from intake.keys.recovery import RECOVERY_FILE_NAME, create_recovery_key
from intake.runtime.metrics import ServiceMetrics
from intake.storage import migrate
from intake.storage.engine import make_engine, make_session_factory
from intake.storage.records import RecordCipher
from intake.triage.missions import (
    DEMO_DIRECTORY,
    import_directory,
    list_missions,
    read_directory,
)


def build_flow_engine(
    settings: Settings, catalog: Catalog, places: CountryMatcher | None = None
) -> FlowEngine:
    return FlowEngine(
        load_specs(catalog=catalog),
        catalog,
        places or CountryMatcher(catalog.languages),
        duress_words=settings.duress_words,
    )


def build_serving_service(
    settings: Settings,
    sessions: sessionmaker[Session],
    cipher: RecordCipher,
    metrics: ServiceMetrics | None = None,
) -> tuple[ConversationService, threading.Thread]:
    """The service as `serve` runs it, and the thread preparing its places index.

    The index is built in the background, then the start-up heap is frozen
    (`background.prepare_in_background`); benchmarks join the thread before measuring.
    """
    places = CountryMatcher(load_catalog().languages)
    preparing = prepare_in_background(places)
    return build_service(settings, sessions, cipher, metrics=metrics, places=places), preparing


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


