"""Composing the console from the settings, and serving it with uvicorn."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import uvicorn
from sqlalchemy.orm import Session, sessionmaker
from starlette.applications import Starlette

from intake.config import LOOPBACK_HOSTS, Settings, parse_http_addr
from intake.core.desks import build_cipher, build_desk, build_login_throttle, build_logins, utcnow
from intake.web.app import WebOptions, build_app
from intake.web.sessions import SessionStore

__all__ = ["console_app", "serve_console", "web_options"]

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30


def web_options(settings: Settings, listen: str) -> WebOptions:
    host, port = parse_http_addr(listen)
    # WebAuthn wants a domain, never an IP address: loopback is "localhost".
    shown = "localhost" if host in LOOPBACK_HOSTS else host
    origin = settings.web.origin or f"http://{shown}:{port}"
    return WebOptions(
        secure_cookies=settings.web.behind_tls,
        rp_id=settings.web.rp_id or shown,
        origin=origin,
        trusted_proxies=settings.web.trusted_networks,
        concurrent_unlocks=settings.web.concurrent_unlocks,
    )


def console_app(
    settings: Settings,
    sessions: sessionmaker[Session],
    listen: str,
    clock: Callable[[], datetime] = utcnow,
) -> tuple[Starlette, SessionStore]:
    """The console on this database and keyring (raises SetupError without a keyring)."""
    cipher = build_cipher(settings, sessions, clock)
    desk = build_desk(settings, sessions, cipher, clock)
    desk.renderer  # noqa: B018 - load catalogs and place names now, not at the first case page
    logins = build_logins(settings, sessions, cipher, clock)
    store = SessionStore(
        clock,
        idle=timedelta(minutes=settings.web.idle_minutes),
        absolute=timedelta(hours=settings.web.absolute_hours),
        on_end=lambda officer, why: logins.logged_out(officer, why),
    )
    throttle = build_login_throttle(settings, sessions, clock)
    options = web_options(settings, listen)
    return build_app(desk, logins, throttle, store, options, clock), store


async def serve_console(app: Starlette, store: SessionStore, listen: str) -> None:
    """Serve until cancelled; expired sessions are swept (keys dropped) every 30 s."""
    host, port = parse_http_addr(listen)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        # Our own logs only: an access log would carry paths and queries.
        access_log=False,
        log_config=None,
        # uvicorn would believe X-Forwarded-For from any loopback peer; the console
        # decides whom to believe itself ([web] trusted_proxies, intake.web.client).
        proxy_headers=False,
        server_header=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    sweeper = asyncio.create_task(_sweep(store))
    log.info("web console listening", extra={"listen": listen})
    try:
        await server.serve()
    finally:
        sweeper.cancel()


async def _sweep(store: SessionStore) -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        await asyncio.to_thread(store.sweep)
