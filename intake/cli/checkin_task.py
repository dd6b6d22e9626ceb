"""The check-in scheduler as a periodic task of `serve`.

Every `serve` process runs one: the scheduler's row locks make it safe to
run several (each due check-in is acted on by one of them). A failing batch
(database unreachable) is logged and tried again at the next poll: nothing
was committed, so repeating it is safe.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import SQLAlchemyError

from intake.core.checkin_scheduler import CheckinScheduler

log = logging.getLogger(__name__)

# Batches in a row before yielding to the poll interval (a burst of due check-ins).
_MAX_BATCHES = 50


async def run_checkins(scheduler: CheckinScheduler, poll_seconds: float) -> None:
    """Act on due check-ins every `poll_seconds` until cancelled."""
    while True:
        for _ in range(_MAX_BATCHES):
            try:
                done = await asyncio.to_thread(scheduler.run_once)
            except SQLAlchemyError as exc:
                log.warning("check-in scheduler: database error (%s)", type(exc).__name__)
                break
            if done.acted == 0:
                break
        await asyncio.sleep(poll_seconds)
