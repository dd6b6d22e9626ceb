"""The queue, a case file with its actions and files, and the mission's statistics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from intake.errors import CaseNotFound, OfficerRefused, Refused
from intake.references import MissionId, OfficerId
from intake.triage.queue import STATUSES, QueueFilter
from intake.triage.workflow import TRIGGER_FOR_STATUS, allowed_triggers
from intake.web.console import Console, form_text, reference_of

__all__ = ["attachment", "case_action", "case_page", "home", "queue_page", "stats_page"]

PAGE_SIZE = 50
T = TypeVar("T")


async def queue_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.officer_session(request)
    assert session.unlocked is not None  # noqa: S101 - officer_session
    officer = session.unlocked.officer
    query = request.query_params
    state = query.get("state", "")
    wanted = QueueFilter(
        statuses=[state] if state in STATUSES else [],
        kinds=[query["kind"]] if query.get("kind") else [],
        countries=[query["country"].upper()] if query.get("country") else [],
        claimed_by=officer.id if query.get("mine") else None,
        answered=bool(query.get("answered")),
        reference=query.get("q", "").strip().upper() or None,
        include_closed=bool(query.get("closed")),
    )
    try:
        page = max(1, int(query.get("page", "1")))
    except ValueError:
        page = 1
    cases = await console.call(
        console.desk.list,
        officer,
        [MissionId(officer.mission_id)],
        wanted.statuses,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
        wanted=wanted,
    )
    total = await console.call(console.desk.count, officer, wanted)
    renderer = console.desk.renderer
    filters = {k: v for k, v in query.items() if k != "page" and v}
    return console.page(
        request,
        "queue.html",
        session,
        cases=cases,
        total=total,
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        filters=filters,
        statuses=STATUSES,
        kind_label=lambda kind: renderer.kind_label(kind, session.language),
        country_name=lambda code: renderer.country_name(code, session.language),
        page_url=lambda n: "/queue?" + urlencode({**filters, "page": n}),
        now=console.clock(),
    )


async def case_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.officer_session(request)
    assert session.unlocked is not None  # noqa: S101 - officer_session
    reference = reference_of(request.path_params["reference"])
    file, _opened = await _or_404(
        console.call(console.desk.case_file, reference, session.unlocked.acting, session.language)
    )
    colleagues = await console.call(console.desk.colleagues, session.unlocked.officer)
    missions = await console.call(console.desk.missions)
    return console.page(
        request,
        "case.html",
        session,
        file=file,
        colleagues=[(o.id, o.name) for o in colleagues],
        missions=[m for m in missions if m[0] != file.summary.mission],
        allowed=set(allowed_triggers(file.summary.status)),
        states=sorted(TRIGGER_FOR_STATUS),
    )


async def attachment(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.officer_session(request)
    assert session.unlocked is not None  # noqa: S101 - officer_session
    reference = reference_of(request.path_params["reference"])
    item = await _or_404(
        console.call(
            console.desk.attachment, reference, session.unlocked.acting, request.path_params["file"]
        )
    )
    # Never shown inline: a defender's file may be hostile (script, tracking pixel).
    return Response(
        item.data,
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{reference}-{item.id[:8]}.bin"',
            "X-Content-Type-Options": "nosniff",
        },
    )


async def case_action(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.officer_session(request)
    form = await console.form(request, session)
    assert session.unlocked is not None  # noqa: S101 - officer_session
    reference = reference_of(request.path_params["reference"])
    action = request.path_params["action"]
    acting = session.unlocked.acting
    desk = console.desk
    steps: dict[str, Callable[[], Any]] = {
        "ack": partial(
            desk.change_status, reference, acting, "ack", form_text(form, "reason") or None
        ),
        "claim": partial(desk.claim, reference, acting),
        "assign": partial(desk.assign, reference, acting, OfficerId(form_text(form, "to"))),
        "unclaim": partial(desk.unclaim, reference, acting),
        "status": partial(
            desk.change_status,
            reference,
            acting,
            TRIGGER_FOR_STATUS.get(form_text(form, "state"), "-"),
            form_text(form, "reason") or None,
        ),
        "note": partial(desk.note, reference, acting, form_text(form, "text")),
        "reply": partial(desk.reply, reference, acting, form_text(form, "text")),
        "transfer": partial(
            desk.transfer,
            reference,
            acting,
            MissionId(form_text(form, "to")),
            form_text(form, "reason") or None,
        ),
        "close": partial(desk.change_status, reference, acting, "close", form_text(form, "reason")),
        "reopen": partial(
            desk.change_status, reference, acting, "reopen", form_text(form, "reason") or None
        ),
    }
    step = steps.get(action)
    if step is None:
        raise HTTPException(404)
    if action in ("note", "reply") and not form_text(form, "text"):
        session.flash = f"error: the {action} is empty"
        return console.redirect(f"/cases/{reference}", session)
    try:
        message = await _or_404(console.call(step))
    except Refused as exc:
        session.flash = f"error: {exc}"
        return console.redirect(f"/cases/{reference}", session)
    session.flash = str(message)
    if action == "transfer":
        return console.redirect("/queue", session)  # no longer ours to read
    return console.redirect(f"/cases/{reference}", session)


async def stats_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.officer_session(request)
    assert session.unlocked is not None  # noqa: S101 - officer_session
    stats = await console.call(console.desk.statistics, session.unlocked.officer)
    renderer = console.desk.renderer
    return console.page(
        request,
        "stats.html",
        session,
        stats=stats,
        kind_label=lambda kind: renderer.kind_label(kind, session.language),
        country_name=lambda code: renderer.country_name(
            None if code == "-" else code, session.language
        ),
        lambda_id=lambda key: key,
    )


async def home(request: Request) -> Response:
    return RedirectResponse("/queue", status_code=303)


async def _or_404(work: Awaitable[T]) -> T:
    """Another mission's case reads exactly as one that does not exist."""
    try:
        return await work
    except CaseNotFound as exc:
        raise HTTPException(404, "no such case") from exc
    except OfficerRefused as exc:
        if "not in the queue" in str(exc):
            raise HTTPException(404, "no such case") from exc
        raise
