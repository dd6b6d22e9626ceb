"""The officers' web console: pages and forms over the case desk and the login desk.

An entry point like the CLI: it asks (forms) and shows (templates); every
decision and audit entry is the desks' (`intake.triage.desk`,
`intake.triage.logins`). Pages are server-rendered and work without
JavaScript; only the WebAuthn ceremony needs a script (`static/webauthn.js`),
TOTP being the fallback. Another mission's case answers 404, exactly as a
reference that does not exist. The pages: `login_pages` and `case_pages`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from intake.errors import Refused
from intake.triage.desk import CaseDesk
from intake.triage.logins import LoginDesk
from intake.triage.throttle import SignInThrottle
from intake.web import case_pages as cases
from intake.web import login_pages as login
from intake.web.console import HERE, Console, Redirect, WebOptions
from intake.web.security import SecurityHeaders
from intake.web.sessions import SessionStore

__all__ = ["WebOptions", "build_app"]


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
    assert isinstance(exc, Redirect)  # noqa: S101 - registered for Redirect
    return RedirectResponse(exc.url, status_code=303)


def build_app(
    desk: CaseDesk,
    logins: LoginDesk,
    throttle: SignInThrottle,
    store: SessionStore,
    options: WebOptions,
    clock: Callable[[], datetime],
) -> Starlette:
    """The console's ASGI application (serve it with uvicorn)."""
    routes = [
        Route("/", cases.home),
        Route("/login", login.login_page, methods=["GET"]),
        Route("/login", login.login_submit, methods=["POST"]),
        Route("/login/factor", login.factor_page, methods=["GET"]),
        Route("/login/factor", login.factor_submit, methods=["POST"]),
        Route("/login/enrol", login.enrol_page, methods=["GET"]),
        Route("/login/enrol", login.enrol_submit, methods=["POST"]),
        Route("/login/webauthn/{purpose:str}/options", login.webauthn_options, methods=["POST"]),
        Route("/login/webauthn/{purpose:str}/verify", login.webauthn_verify, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/language", login.language, methods=["POST"]),
        Route("/queue", cases.queue_page),
        Route("/stats", cases.stats_page),
        Route("/cases/{reference:str}", cases.case_page),
        Route("/cases/{reference:str}/files/{file:str}", cases.attachment),
        Route("/cases/{reference:str}/{action:str}", cases.case_action, methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: _http_error, Redirect: _redirect, Refused: _refused},
    )
    app.state.console = Console(desk, logins, throttle, store, options, clock)
    return app
