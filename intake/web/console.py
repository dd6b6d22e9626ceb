"""The console's shared parts: how it is reached, its sessions, forms and pages.

Every page handler gets the `Console` from `request.app.state.console`; it
holds the desks (which decide and audit), the session store and the templates.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from intake.listening import Network
from intake.references import CaseRef, parse_reference
from intake.triage.desk import CaseDesk
from intake.triage.logins import LoginDesk, Unlocked
from intake.triage.statistics import shown
from intake.triage.throttle import SignInThrottle
from intake.web.client import client_address
from intake.web.sessions import SessionStore, WebSession, same_token

__all__ = ["HERE", "Console", "ConsoleBusy", "Redirect", "WebOptions", "form_text", "reference_of"]

HERE = Path(__file__).resolve().parent
T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebOptions:
    """How the console is reached: cookie flags, the WebAuthn relying party, the proxies."""

    secure_cookies: bool = False
    rp_id: str = "localhost"
    origin: str = "http://localhost"
    rp_name: str = "hrd-intake officers' console"
    # Reverse proxies whose X-Forwarded-For names the client (`intake.web.client`).
    trusted_proxies: tuple[Network, ...] = ()
    # Passphrase checks at once, and how long a sign-in waits for one (`Console.unlock`).
    concurrent_unlocks: int = 2
    unlock_wait_seconds: float = 5.0

    @property
    def cookie(self) -> str:
        # __Host-: the browser keeps it only if Secure, for this host, path /.
        return "__Host-hrd_session" if self.secure_cookies else "hrd_session"


class Console:
    def __init__(
        self,
        desk: CaseDesk,
        logins: LoginDesk,
        throttle: SignInThrottle,
        store: SessionStore,
        options: WebOptions,
        clock: Callable[[], datetime],
    ) -> None:
        self.desk = desk
        self.logins = logins
        self.throttle = throttle
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
        self._told_untrusted = False
        self.unlock_slots = asyncio.Semaphore(options.concurrent_unlocks)
        self._told_busy = False

    def client_address(self, request: Request) -> str:
        """Where the request comes from, as far as the trusted proxies tell (README)."""
        forwarded = request.headers.getlist("x-forwarded-for")
        if forwarded and not self.options.trusted_proxies and not self._told_untrusted:
            self._told_untrusted = True
            log.warning(
                "requests carry X-Forwarded-For but [web] trusted_proxies is empty: sign-in "
                "attempts are limited per connecting address (your proxy's, shared by all)"
            )
        peer = request.client.host if request.client is not None else None
        return client_address(peer, forwarded, self.options.trusted_proxies)

    # Sessions and forms

    def session(self, request: Request) -> WebSession | None:
        return self.store.get(request.cookies.get(self.options.cookie))

    def officer_session(self, request: Request) -> WebSession:
        session = self.session(request)
        if session is None or session.unlocked is None:
            raise Redirect("/login")
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

    async def unlock(self, typed_id: str, passphrase: bytes) -> Unlocked:
        """The passphrase step, at most `concurrent_unlocks` at once, whoever asks.

        Each is an Argon2id run (64 MiB and a core for a moment); without a cap, a
        spray from many addresses (each within its own allowance) would start one
        per request on the thread pool, up to its 40 threads and 2.5 GiB. A
        sign-in waits up to `unlock_wait_seconds` for a slot.

        Raises:
            ConsoleBusy: no slot came free in time (nothing was checked or counted).
            LoginRefused: from `LoginDesk.unlock`.
        """
        try:
            await asyncio.wait_for(self.unlock_slots.acquire(), self.options.unlock_wait_seconds)
        except TimeoutError:
            if not self._told_busy:  # once an episode: a flood must not flood the log
                self._told_busy = True
                log.warning("sign-ins refused: every passphrase check slot stays busy")
            raise ConsoleBusy from None
        self._told_busy = False
        try:
            return await self.call(self.logins.unlock, typed_id, passphrase)
        finally:
            self.unlock_slots.release()


class ConsoleBusy(Exception):
    """Every passphrase check slot stayed busy: the sign-in is refused, to be tried again."""

    retry_after = 5


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def reference_of(text: str) -> CaseRef:
    return parse_reference(text) or CaseRef(text.strip().upper())
