"""Safety check-ins in tests: the flow script, a cheap word hash, the scheduler on the test clock."""

from __future__ import annotations

from sqlalchemy import func, select

from intake.config import CheckinSettings
from intake.core import app, background
from intake.core.checkin_scheduler import CheckinScheduler
from intake.core.service import ConversationService
from intake.messages import PendingDelivery
from intake.storage.models import Case, CaseEvent, Checkin, Delivery
from tests.support.setup import Setup

WORD = "sunflower"
DURESS = "thunderstorm"
# Argon2id at 19 MiB x 2 is the production cost; tests derive cheaply.
CHEAP = CheckinSettings(word_memory_kib=64, word_iterations=1)


def checkin_script(
    destination: str = "Hearing at the district court, 10:00",
    contacts: str = "My lawyer Amina, +254 700 000 000",
    country: str = "Kenya",
    every: str | None = "h2",
    within: str | None = None,
    word: str = WORD,
    duress: str = DURESS,
) -> list[tuple[str, str]]:
    schedule = [("choose", "interval"), ("choose", every)] if every else []
    if within:
        schedule = [("choose", "deadline"), ("choose", within)]
    return [
        ("choose", "safety_checkin"),
        ("choose", "yes"),
        ("say", destination),
        ("say", contacts),
        ("say", country),
        *schedule,
        ("choose", "private_authorities"),
        ("say", word),
        ("say", duress),
        ("choose", "confirm"),
    ]


def cheap(setup: Setup) -> Setup:
    """The same setup with check-in words hashed cheaply."""
    setup.settings = setup.settings.model_copy(update={"checkins": CHEAP})
    return setup


def checkin_service(setup: Setup) -> ConversationService:
    return app.build_service(cheap(setup).settings, setup.sessions, setup.cipher, clock=setup.clock)


def scheduler(setup: Setup, **kwargs: object) -> CheckinScheduler:
    built = background.build_checkin_scheduler(setup.settings, setup.sessions, setup.cipher, setup.clock)
    for name, value in kwargs.items():
        setattr(built, f"_{name}", value)
    return built


def prompts(service: ConversationService, channel: str = "console") -> list[PendingDelivery]:
    """Check-in prompts waiting for `channel`, delivered (forgotten) as a channel would."""
    found = [d for d in service.claim_deliveries(channel, limit=1000)]
    service.release([d for d in found if d.kind != "checkin"])
    for delivery in found:
        if delivery.kind == "checkin":
            service.delivered(delivery, [f"sent-{delivery.id}"])
    return [d for d in found if d.kind == "checkin"]


def count(setup: Setup, model: type, *where: object) -> int:
    with setup.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def alert_cases(setup: Setup) -> list[Case]:
    with setup.sessions() as session:
        return list(session.scalars(select(Case).where(Case.kind == "missed_checkin")))


def events_of(setup: Setup, case: Case) -> int:
    return count(setup, CaseEvent, CaseEvent.case_id == case.id)


def checkin_row(setup: Setup) -> Checkin | None:
    with setup.sessions() as session:
        return session.scalar(select(Checkin))


__all__ = [
    "DURESS",
    "WORD",
    "Delivery",
    "alert_cases",
    "checkin_row",
    "checkin_script",
    "checkin_service",
    "count",
    "events_of",
    "prompts",
    "scheduler",
]
