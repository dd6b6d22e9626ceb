"""Telegram API errors (429, 502) and core failures: nothing lost, nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, select

from bots.telegram.retry import Backoff
from intake.messages import Inbound, Outbound
from intake.storage.models import ProcessedMessage
from intake.triage.queue import list_cases
from tests.bots.conftest import RunTelegram, TelegramDefender
from tests.bots.telegram.test_e2e import assert_wiped_before, gps_photo, submitted_reference
from tests.support.fake_telegram import FakeTelegram
from tests.support.setup import Setup


def recorded(setup: Setup) -> int:
    with setup.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(ProcessedMessage)
                .where(ProcessedMessage.channel == "telegram")
            )
            or 0
        )


def test_429_and_502_on_poll_send_and_delete_lose_and_duplicate_nothing(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me = telegram_fake, telegram_defender(6001)
    injected: list[int] = []
    fast = Backoff(base=0.05, cap=0.2)
    with telegram_run(primary_setup, backoff=fast, send_backoff=fast):
        # Given the first contact goes through a flaky getUpdates and sendMessage.
        tg.fail_next("getUpdates", status=502, times=2)
        tg.fail_next("getUpdates", status=429, retry_after=1)
        tg.fail_next("sendMessage", status=429, retry_after=1)
        tg.fail_next("sendMessage", status=502)
        injected.append(me.say("/start"))
        # When the defender answers while sends and polls keep failing now and then.
        injected.append(me.press("threat_report"))
        tg.fail_next("sendMessage", status=502, times=2)
        injected.append(me.press("yes"))
        injected.append(me.say("Kenya"))
        tg.fail_next("getUpdates", status=502)
        injected.append(me.press("me"))
        injected.append(me.say("1, 5"))
        injected.append(me.press("ongoing"))
        injected.append(me.say("Details under failing APIs."))
        tg.fail_next("deleteMessage", status=502)  # the photo's removal from the chat
        tg.fail_next("getFile", status=502)
        injected.append(me.send(photo=gps_photo()))
        injected.append(me.press("done"))
        injected.append(me.press("days"))
        injected.append(me.say("Signal"))
        injected.append(me.press("confidential"))
        injected.append(me.press("no"))
        tg.fail_next("deleteMessages", status=429, retry_after=1)
        tg.fail_next("deleteMessages", status=502)
        injected.append(me.press("confirm"))
        reference, reference_message = submitted_reference(me)

    # Then every update was recorded once and the case exists once.
    assert recorded(primary_setup) == len(injected)
    with primary_setup.sessions() as session:
        assert [case.reference for case in list_cases(session)] == [reference]
    assert_wiped_before(tg, me.chat_id, keep=reference_message)
    # Each failed call was repeated, and nothing was sent twice.
    texts = [params["text"] for params in tg.calls_to("sendMessage")]
    assert len(tg.calls_to("sendMessage")) - len(set(texts)) <= 5  # the 5 failed sends
    assert tg.errors == []


def test_a_failing_core_is_retried_and_defenders_are_told_once(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    service = primary_setup.service()
    real = service.handle_batch
    failures = {"left": 3}

    def flaky(messages: Sequence[Inbound]) -> list[list[Outbound]]:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database unavailable")
        return real(messages)

    service.handle_batch = flaky  # type: ignore[method-assign]
    me = telegram_defender(6002)
    with telegram_run(
        primary_setup, service=service, backoff=Backoff(base=0.05, cap=0.1), outage_grace=0.0
    ):
        # When the core fails three times on the first message.
        uid = me.say("/start", wait=False)
        me.settle(uid)
        # Then it was recorded once it worked; the defender heard once that we'd answer.
        back = [t for t in me.texts() if "technical problem" in t]
        assert len(back) == 1
        assert any("What would you like to do?" in t for t in me.texts())
        me.say("/delete")
    assert failures["left"] == 0
    assert recorded(primary_setup) == 2
    # The notice sent while the core was down was wiped with the rest.
    assert not any("technical problem" in t for t in me.texts())


def test_a_blocked_bot_is_not_retried(
    primary_setup: Setup,
    telegram_run: RunTelegram,
    telegram_fake: FakeTelegram,
    telegram_defender: Callable[..., TelegramDefender],
) -> None:
    tg, me, other = telegram_fake, telegram_defender(6003), telegram_defender(6004)
    with telegram_run(primary_setup):
        me.say("/start")
        tg.block(me.chat_id)
        sends = len(tg.calls_to("sendMessage"))
        me.say("hello")  # its two replies get 403: each tried once, then acknowledged
        assert len(tg.calls_to("sendMessage")) == sends + 2
        other.say("/start")  # others are still served
        assert other.texts()
    assert recorded(primary_setup) == 3
