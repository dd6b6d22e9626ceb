"""The delivery worker with a scripted platform: what it records when sends or the database fail.

The conversation service and its database are real; only the platform is a
script (the Telegram and Matrix senders are tested against their real
servers in test_telegram_deliveries and test_matrix_deliveries).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bots.deliveries import DeliveryTiming, DeliveryWorker, Unavailable
from intake.core.service import ConversationService
from intake.messages import PendingDelivery
from intake.storage.conversation_record import open_turn
from intake.storage.deliveries import queue_delivery
from intake.storage.models import Conversation
from tests.support.defender import Defender
from tests.support.deliveries import pending_deliveries
from tests.support.setup import Setup

FAST = DeliveryTiming(interval=0.02, base_backoff=0.01, max_backoff=0.02)


class ScriptedSender:
    """Answers each send with the next outcome: ids sent, or an exception."""

    channel = "telegram"

    def __init__(self, outcomes: Sequence[list[str] | Exception]) -> None:
        self.outcomes = list(outcomes)
        self.sends = 0

    async def ready(self) -> bool:
        return True

    async def send(self, delivery: PendingDelivery) -> list[str]:
        self.sends += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def a_reply(setup: Setup) -> str:
    """A defender's conversation on Telegram with a reply queued for it; the conversation id."""
    Defender(setup.service(), sender="7", channel="telegram", chat="7").send("/start")
    with setup.sessions.begin() as session:
        conversation_id = session.scalars(select(Conversation.id)).one()
        queue_delivery(
            session,
            setup.cipher,
            channel="telegram",
            kind="reply",
            chat="7",
            text="a long reply",
            conversation_id=conversation_id,
            now=setup.clock(),
        )
    return conversation_id


def trace(setup: Setup, conversation_id: str) -> list[str]:
    with setup.sessions() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        return list(open_turn(setup.cipher, conversation).record["trace"])


def run_until_delivered(setup: Setup, service: ConversationService, sender: ScriptedSender) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(DeliveryWorker(service, sender, FAST).run(stop))
        for _ in range(200):
            if await asyncio.to_thread(pending_deliveries, setup) == 0:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(main())


def test_pieces_sent_before_an_outage_are_traced_with_the_retry(primary_setup: Setup) -> None:
    setup = primary_setup
    conversation_id = a_reply(setup)
    before = trace(setup, conversation_id)
    # The first piece of a long reply went out, then the platform stopped answering.
    sender = ScriptedSender([Unavailable("TimedOut", sent=["101"]), ["102", "103"]])

    run_until_delivered(setup, setup.service(), sender)

    # Sent again whole; every message of both tries is in the trace, for the next wipe.
    assert sender.sends == 2
    assert trace(setup, conversation_id) == [*before, "101", "102", "103"]


def test_a_send_not_recorded_is_recorded_later_not_sent_again(primary_setup: Setup) -> None:
    setup = primary_setup
    conversation_id = a_reply(setup)
    service = setup.service()
    recorded = service.delivered
    failures = [OperationalError("delivered", {}, Exception("database is locked"))]

    def flaky(delivery: PendingDelivery, sent_message_ids: Sequence[str] = ()) -> None:
        if failures:
            raise failures.pop()
        recorded(delivery, sent_message_ids)

    service.delivered = flaky  # type: ignore[method-assign]
    sender = ScriptedSender([["201"]])

    run_until_delivered(setup, service, sender)

    assert sender.sends == 1 and failures == []
    assert trace(setup, conversation_id)[-1] == "201"
