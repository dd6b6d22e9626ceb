"""Logging in: passphrase, second factor (TOTP form, WebAuthn JSON), first-login enrolment,
logout and the language of the pages.

Every sign-in POST first takes an attempt from its client address's allowance
(`intake.triage.throttle`), before the form is read: over the limit it is
answered 429 with `Retry-After`, and nothing typed is looked at.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from intake.errors import LoginRefused
from intake.triage.logins import Unlocked, new_totp_secret, totp_uri
from intake.web import passkeys
from intake.web.console import Console, ConsoleBusy, Redirect, form_text
from intake.web.sessions import WebSession, same_token

BUSY = "The console is busy signing other officers in; try again in a few seconds."

__all__ = [
    "enrol_page",
    "enrol_submit",
    "factor_page",
    "factor_submit",
    "language",
    "login_page",
    "login_submit",
    "logout",
    "webauthn_options",
    "webauthn_verify",
]


async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    if session is not None and session.unlocked is not None:
        return console.redirect("/queue")
    if session is None:
        session = console.store.new()
    return console.page(request, "login.html", session)


async def _over_limit(console: Console, request: Request) -> LoginRefused | None:
    """Take one sign-in attempt of the client's address: the refusal if none is left."""
    throttled = console.throttle.admit(console.client_address(request))
    if throttled is None:
        return None
    if throttled.first:
        await console.call(console.throttle.record, throttled)
    return throttled.refusal()


def _throttled(
    console: Console, request: Request, session: WebSession | None, exc: LoginRefused, back: str
) -> Response:
    """The answer over the limit; the session (and a pending unlock) is kept as it was."""
    response = console.page(
        request, "throttled.html", session, status_code=429, error=str(exc), back=back
    )
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def login_submit(request: Request) -> Response:
    console: Console = request.app.state.console
    session = console.session(request)
    if (over := await _over_limit(console, request)) is not None:
        return _throttled(console, request, session, over, "/login")
    form = await console.form(request, session)
    assert session is not None  # noqa: S101 - checked by form()
    officer_id = form_text(form, "officer")
    passphrase = form.get("passphrase")
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else b""
    try:
        unlocked = await console.unlock(officer_id, secret)
    except LoginRefused as exc:
        return _login_refused(console, request, session, exc)
    except ConsoleBusy as busy:
        response = console.page(request, "login.html", session, status_code=503, error=BUSY)
        response.headers["Retry-After"] = str(busy.retry_after)
        return response
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
        raise Redirect("/login")
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
    if (over := await _over_limit(console, request)) is not None:
        return _throttled(console, request, console.session(request), over, "/login/factor")
    session, unlocked = _pending(console, request)
    form = await console.form(request, session)
    try:
        await console.call(console.logins.check_totp, unlocked, form_text(form, "code"))
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
    if (over := await _over_limit(console, request)) is not None:
        return _throttled(console, request, console.session(request), over, "/login/enrol")
    session, unlocked = _pending(console, request)
    form = await console.form(request, session)
    try:
        if session.enrolment_code is None:
            code = form_text(form, "enrolment_code")
            await console.call(console.logins.check_enrolment_code, unlocked, code)
            session.enrolment_code = code
            return console.redirect("/login/enrol", session)
        secret = session.totp_secret or ""
        await console.call(
            console.logins.add_totp,
            unlocked,
            session.enrolment_code,
            secret,
            form_text(form, "code"),
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
    wanted = form_text(form, "lang")
    session.language = console.desk.renderer.language(wanted)
    back = form_text(form, "back")
    return console.redirect(
        back if back.startswith("/") and not back.startswith("//") else "/queue", session
    )


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
    if (over := await _over_limit(console, request)) is not None:
        # Nothing of the session changes: the officer touches the key again once let in.
        headers = {"Retry-After": str(over.retry_after)}
        return JSONResponse({"error": str(over)}, status_code=429, headers=headers)
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
