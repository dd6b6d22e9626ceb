"""The officers' web console: pages and forms over the case desk and the login desk.

An entry point like the CLI: it asks (forms) and shows (templates); every
decision and audit entry is the desks' (`intake.triage.desk`,
`intake.triage.logins`). Pages are server-rendered and work without
JavaScript; only the WebAuthn ceremony needs a script (`static/webauthn.js`),
TOTP being the fallback. Another mission's case answers 404, exactly as a
reference that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from intake.errors import CaseNotFound, LoginRefused, OfficerRefused, Refused
from intake.references import CaseRef, MissionId, OfficerId, parse_reference
from intake.triage.desk import CaseDesk
from intake.triage.logins import LoginDesk, Unlocked, new_totp_secret, totp_uri
from intake.triage.queue import STATUSES, QueueFilter
from intake.triage.statistics import shown
from intake.triage.workflow import TRIGGER_FOR_STATUS, allowed_triggers
from intake.web import passkeys
from intake.web.security import SecurityHeaders
from intake.web.sessions import SessionStore, WebSession, same_token

__all__ = ["WebOptions", "build_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
PAGE_SIZE = 50
T = TypeVar("T")


@dataclass(frozen=True)
class WebOptions:
    """How the console is reached: cookie flags and the WebAuthn relying party."""

    secure_cookies: bool = False
    rp_id: str = "localhost"
    origin: str = "http://localhost"
    rp_name: str = "hrd-intake officers' console"

    @property
    def cookie(self) -> str:
        # __Host-: the browser keeps it only if Secure, for this host, path /.
        return "__Host-hrd_session" if self.secure_cookies else "hrd_session"


class Console:
    def __init__(
        self,
        desk: CaseDesk,
        logins: LoginDesk,
        store: SessionStore,
        options: WebOptions,
        clock: Callable[[], datetime],
    ) -> None:
        self.desk = desk
        self.logins = logins
        self.store = store
        self.options = options
        self.clock = clock
        # Autoescaping everywhere: every value a defender or officer wrote is text, never markup.
        env = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=True,
        )
        self.templates = Jinja2Templates(env=env)
        self.templates.env.globals["shown"] = shown

    # Sessions and forms

    def session(self, request: Request) -> WebSession | None:
        return self.store.get(request.cookies.get(self.options.cookie))

    def officer_session(self, request: Request) -> WebSession:
        session = self.session(request)
        if session is None or session.unlocked is None:
            raise _Redirect("/login")
        return session

    async def form(self, request: Request, session: WebSession | None) -> FormData:
        """The POSTed form, refused (403) unless it carries this session's CSRF token."""
        form = await request.form()
        token = form.get("csrf")
        if session is None or not same_token(
            token if isinstance(token, str) else None, session.csrf
        ):
            raise HTTPException(403, "missing or wrong CSRF token")
        return form

    def page(
        self,
        request: Request,
        name: str,
        session: WebSession | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        language = session.language if session is not None else "en"
        direction = "rtl" if language == "ar" else "ltr"
        flash = None
        if session is not None and session.flash:
            flash, session.flash = session.flash, None
        response: Response = self.templates.TemplateResponse(
            request,
            name,
            {
                "session": session,
                "officer": session.unlocked.officer if session and session.unlocked else None,
                "lang": language,
                "dir": direction,
                "languages": self.desk.renderer.language_names,
                "flash": flash,
                **context,
            },
            status_code=status_code,
        )
        if session is not None:
            self.set_cookie(response, session)
        return response

    def set_cookie(self, response: Response, session: WebSession) -> None:
        response.set_cookie(
            self.options.cookie,
            session.id,
            httponly=True,
            samesite="strict",
            secure=self.options.secure_cookies,
            path="/",
        )

    def redirect(self, url: str, session: WebSession | None = None) -> Response:
        response = RedirectResponse(url, status_code=303)
        if session is not None:
            self.set_cookie(response, session)
        return response

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a desk step (database, Argon2id) off the event loop."""
        return await run_in_threadpool(partial(fn, *args, **kwargs))


class _Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _reference(text: str) -> CaseRef:
    return parse_reference(text) or CaseRef(text.strip().upper())


# Login


async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    if session is not None and session.unlocked is not None:
        return console.redirect("/queue")
    if session is None:
        session = console.store.new()
    return console.page(request, "login.html", session)


async def login_submit(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    form = await console.form(request, session)
    assert session is not None  # noqa: S101 - checked by form()
    officer_id = _text(form, "officer")
    passphrase = form.get("passphrase")
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else b""
    try:
        unlocked = await console.call(console.logins.unlock, officer_id, secret)
    except LoginRefused as exc:
        return _login_refused(console, request, session, exc)
    session = console.store.renew(session)
    session.pending = unlocked
    if not unlocked.factors:
        return console.redirect("/login/enrol", session)
    return console.redirect("/login/factor", session)


def _login_refused(
    console: Console,
    request: Request,
    session: WebSession,
    exc: LoginRefused,
    page: str = "login.html",
) -> Response:
    response = console.page(
        request, page, session, status_code=429 if exc.retry_after else 401, error=str(exc)
    )
    if exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _pending(console: Console, request: Request) -> tuple[WebSession, Unlocked]:
    session = console.session(request)
    if session is None or session.pending is None:
        raise _Redirect("/login")
    return session, session.pending


async def factor_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    return console.page(
        request,
        "factor.html",
        session,
        webauthn="webauthn" in unlocked.factors,
        totp="totp" in unlocked.factors,
    )


async def factor_submit(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    form = await console.form(request, session)
    try:
        await console.call(console.logins.check_totp, unlocked, _text(form, "code"))
    except LoginRefused as exc:
        session.pending = None  # start again from the passphrase
        return _login_refused(console, request, session, exc)
    return _logged_in(console, session, unlocked)


def _logged_in(console: Console, session: WebSession, unlocked: Unlocked) -> Response:
    session = console.store.renew(session)
    session.pending = None
    session.enrolment_code = None
    session.totp_secret = None
    session.challenge = None
    session.unlocked = unlocked
    return console.redirect("/queue", session)


async def enrol_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    if session.enrolment_code is None:
        return console.page(request, "enrol.html", session, stage="code")
    if session.totp_secret is None:
        session.totp_secret = new_totp_secret()
    return console.page(
        request,
        "enrol.html",
        session,
        stage="factor",
        secret=session.totp_secret,
        uri=totp_uri(session.totp_secret, unlocked.officer.id),
    )


async def enrol_submit(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    form = await console.form(request, session)
    try:
        if session.enrolment_code is None:
            code = _text(form, "enrolment_code")
            await console.call(console.logins.check_enrolment_code, unlocked, code)
            session.enrolment_code = code
            return console.redirect("/login/enrol", session)
        secret = session.totp_secret or ""
        await console.call(
            console.logins.add_totp, unlocked, session.enrolment_code, secret, _text(form, "code")
        )
    except LoginRefused as exc:
        session.pending = None
        session.enrolment_code = None
        return _login_refused(console, request, session, exc)
    return _logged_in(console, session, unlocked)


async def logout(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    await console.form(request, session)
    assert session is not None  # noqa: S101 - checked by form()
    console.store.end(session, "logout")
    response = console.redirect("/login")
    response.delete_cookie(console.options.cookie, path="/")
    return response


async def language(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    form = await console.form(request, session)
    assert session is not None  # noqa: S101 - checked by form()
    wanted = _text(form, "lang")
    session.language = console.desk.renderer.language(wanted)
    back = _text(form, "back")
    return console.redirect(
        back if back.startswith("/") and not back.startswith("//") else "/queue", session
    )


# WebAuthn (JSON, from static/webauthn.js)


async def webauthn_options(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    _json_csrf(request, session)
    purpose = request.path_params["purpose"]
    if purpose == "register":
        if session.enrolment_code is None:
            raise HTTPException(403, "enter the enrolment code first")
        body, session.challenge = passkeys.registration_options(console.options, unlocked)
    else:
        credentials = await console.call(console.logins.webauthn_credentials, unlocked)
        body, session.challenge = passkeys.authentication_options(console.options, credentials)
    return Response(body, media_type="application/json")


async def webauthn_verify(request: Request) -> Response:
    console: Console = request.app.state.console
    session, unlocked = _pending(console, request)
    _json_csrf(request, session)
    purpose = request.path_params["purpose"]
    challenge, session.challenge = session.challenge, None
    raw = (await request.body()).decode("utf-8", "replace")
    if challenge is None:
        raise HTTPException(400, "no WebAuthn ceremony under way")
    try:
        if purpose == "register":
            if session.enrolment_code is None:
                raise HTTPException(403, "enter the enrolment code first")
            credential = passkeys.verify_registration(console.options, raw, challenge)
            await console.call(
                console.logins.add_webauthn, unlocked, session.enrolment_code, credential
            )
        else:
            credentials = await console.call(console.logins.webauthn_credentials, unlocked)
            try:
                used, count = passkeys.verify_authentication(
                    console.options, raw, challenge, credentials
                )
            except passkeys.PasskeyRefused as exc:
                # Counted and audited like any failed login; raises LoginRefused.
                await console.call(console.logins.webauthn_failed, unlocked.officer.id, str(exc))
            await console.call(console.logins.webauthn_ok, unlocked, used, count)
    except (LoginRefused, passkeys.PasskeyRefused) as exc:
        session.pending = None
        return JSONResponse({"error": str(exc), "next": "/login"}, status_code=401)
    response = _logged_in(console, session, unlocked)
    result = JSONResponse({"next": "/queue"})
    result.raw_headers.extend(h for h in response.raw_headers if h[0] == b"set-cookie")
    return result


def _json_csrf(request: Request, session: WebSession) -> None:
    if not same_token(request.headers.get("x-csrf-token"), session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token")


# The queue, cases, statistics


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
    reference = _reference(request.path_params["reference"])
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
    reference = _reference(request.path_params["reference"])
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
    reference = _reference(request.path_params["reference"])
    action = request.path_params["action"]
    acting = session.unlocked.acting
    desk = console.desk
    steps: dict[str, Callable[[], Any]] = {
        "ack": partial(desk.change_status, reference, acting, "ack", _text(form, "reason") or None),
        "claim": partial(desk.claim, reference, acting),
        "assign": partial(desk.assign, reference, acting, OfficerId(_text(form, "to"))),
        "unclaim": partial(desk.unclaim, reference, acting),
        "status": partial(
            desk.change_status,
            reference,
            acting,
            TRIGGER_FOR_STATUS.get(_text(form, "state"), "-"),
            _text(form, "reason") or None,
        ),
        "note": partial(desk.note, reference, acting, _text(form, "text")),
        "reply": partial(desk.reply, reference, acting, _text(form, "text")),
        "transfer": partial(
            desk.transfer,
            reference,
            acting,
            MissionId(_text(form, "to")),
            _text(form, "reason") or None,
        ),
        "close": partial(desk.change_status, reference, acting, "close", _text(form, "reason")),
        "reopen": partial(
            desk.change_status, reference, acting, "reopen", _text(form, "reason") or None
        ),
    }
    step = steps.get(action)
    if step is None:
        raise HTTPException(404)
    if action in ("note", "reply") and not _text(form, "text"):
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


async def _http_error(request: Request, exc: Exception) -> Response:
    console: Console = request.app.state.console
    code = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "error"
    session = console.session(request)
    return console.page(request, "error.html", session, status_code=code, code=code, detail=detail)


async def _refused(request: Request, exc: Exception) -> Response:
    """A refusal the page did not expect (a revoked officer, a key that no longer opens)."""
    console: Console = request.app.state.console
    session = console.session(request)
    return console.page(request, "error.html", session, status_code=403, code=403, detail=str(exc))


async def _redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _Redirect)  # noqa: S101 - registered for _Redirect
    return RedirectResponse(exc.url, status_code=303)


def build_app(
    desk: CaseDesk,
    logins: LoginDesk,
    store: SessionStore,
    options: WebOptions,
    clock: Callable[[], datetime],
) -> Starlette:
    """The console's ASGI application (serve it with uvicorn)."""
    routes = [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login_submit, methods=["POST"]),
        Route("/login/factor", factor_page, methods=["GET"]),
        Route("/login/factor", factor_submit, methods=["POST"]),
        Route("/login/enrol", enrol_page, methods=["GET"]),
        Route("/login/enrol", enrol_submit, methods=["POST"]),
        Route("/login/webauthn/{purpose:str}/options", webauthn_options, methods=["POST"]),
        Route("/login/webauthn/{purpose:str}/verify", webauthn_verify, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/language", language, methods=["POST"]),
        Route("/queue", queue_page),
        Route("/stats", stats_page),
        Route("/cases/{reference:str}", case_page),
        Route("/cases/{reference:str}/files/{file:str}", attachment),
        Route("/cases/{reference:str}/{action:str}", case_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error, _Redirect: _redirect, Refused: _refused},
    )
    app.state.console = Console(desk, logins, store, options, clock)
    return app
