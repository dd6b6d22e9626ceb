"""`web`: the officers' web console; `officers web-enrol`: its one-time enrolment codes."""

from __future__ import annotations

import asyncio

import click

from intake.cli.common import EXIT_SETUP, Context, emit_json, fail, pass_context
from intake.config import LOOPBACK_HOSTS, parse_http_addr
from intake.core.desks import build_logins
from intake.errors import SetupError

__all__ = ["web", "web_enrol"]


@click.command()
@click.option(
    "--listen",
    help="host:port to serve on (default: [web] listen, else 127.0.0.1:8088).",
)
@pass_context
def web(ctx: Context, listen: str | None) -> None:
    """Serve the officers' web console (behind your TLS reverse proxy in production)."""
    from intake.web import console_app, serve_console

    settings = ctx.settings
    address = listen or settings.web.listen or "127.0.0.1:8088"
    try:
        host, _ = parse_http_addr(address)
    except ValueError as exc:
        fail(str(exc), 2)
    if host not in LOOPBACK_HOSTS and not settings.web.allow_public:
        fail(
            f"{address} is not on loopback: serve behind a TLS reverse proxy on this machine, "
            "or set [web] allow_public = true",
            EXIT_SETUP,
        )
    try:
        app, store = console_app(settings, ctx.sessions, address)
    except SetupError as exc:
        fail(str(exc), EXIT_SETUP)
    click.echo(f"officers' console on http://{address}/ (Ctrl-C stops it)", err=True)
    try:
        asyncio.run(serve_console(app, store, address))
    except KeyboardInterrupt:
        pass


@click.command("web-enrol")
@click.argument("officer_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_context
def web_enrol(ctx: Context, officer_id: str, as_json: bool) -> None:
    """A one-time code for OFFICER_ID's first web login (valid 72 hours; audited).

    Give it to the officer in person or over another channel than their passphrase.
    """
    logins = build_logins(ctx.settings, ctx.sessions, ctx.cipher)
    code = logins.new_enrolment_code(officer_id)
    if as_json:
        emit_json({"officer": officer_id, "code": code, "valid_hours": 72})
        return
    click.echo(code)
    click.echo(
        f"one-time enrolment code for {officer_id}, valid 72 hours: they type it at their "
        "first login to the web console, then add a security key or an authenticator app",
        err=True,
    )
