"""Officers' side of the delivery tests: notifications configured, replies queued."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import func, select

from flows import load_catalog
from intake.config import NotificationSettings
from intake.keys.holders import KeysAtHand
from intake.storage.models import Delivery
from intake.triage import actions as triage
from intake.triage import officers
from tests.support.setup import Setup


def notifying(setup: Setup, **notifications: str) -> Setup:
    """The same setup, with officers notified where `notifications` says."""
    settings = setup.settings.model_copy(
        update={"notifications": NotificationSettings(**notifications)}
    )
    return replace(setup, settings=settings)


def render_reply(language: str, reference: str, text: str) -> str:
    """How an officer's reply reads to the defender (as the case desk words it)."""
    return load_catalog().text(language, "reply.from_officer", reference=reference, text=text)


def officer_replies(
    setup: Setup, officer_id: str, keys: KeysAtHand, reference: str, text: str
) -> None:
    """What `hrd-intake queue reply REF` does: queue a reply for the defender's channel."""
    render = render_reply
    with setup.sessions.begin() as session:
        officer = officers.active_officer(session, officer_id)
        case = triage.find_case(session, reference, officer)
        triage.reply(
            session, setup.cipher, case, keys, f"officer:{officer_id}", text, render, setup.clock()
        )


def pending_deliveries(setup: Setup) -> int:
    """Deliveries still in the database (claimed or not)."""
    with setup.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Delivery)) or 0)
