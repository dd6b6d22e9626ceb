"""Where the service answers over HTTP: `[http]` (health and metrics) and `[web]` (the console).

Both listen on loopback unless the operator says otherwise: the health
endpoints are for the machine's probes, the console sits behind a TLS reverse
proxy on the same machine. Part of the settings (`intake.config` re-exports
these names); a module of its own so that the console's settings can grow.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["LOOPBACK_HOSTS", "HttpSettings", "Network", "WebSettings", "parse_http_addr"]

Network = IPv4Network | IPv6Network


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HttpSettings(_Frozen):
    """`[http]`: the health and metrics endpoints (`HRD_INTAKE_HTTP_ADDR`).

    They are for the machine's probes and Prometheus: loopback only, unless
    `allow_public` says the operator put them behind their own access control
    (in a container, the probes come from the container's own loopback).
    """

    allow_public: bool = False


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class WebSettings(_Frozen):
    """`[web]`: the officers' web console (`hrd-intake web`, and `serve` when `listen` is set).

    It listens on loopback unless `allow_public`: put it behind a TLS reverse proxy
    and set `behind_tls`, which marks the session cookie Secure. WebAuthn needs the
    origin the browser sees (`origin`, e.g. "https://console.example.org") and its
    host name (`rp_id`); both default to the listening address.

    Sign-in attempts (every login POST: passphrase, second factor, enrolment step)
    are limited per client address: `login_attempts` at once, then one more every
    `login_refill_seconds` (`intake.triage.throttle`). The client address is the
    connection's peer, unless the peer is one of `trusted_proxies` (addresses or
    networks of the operator's reverse proxies): then it is the nearest address in
    `X-Forwarded-For` that is not a trusted proxy. None is trusted by default.
    At most `concurrent_unlocks` passphrases are checked at once, from all addresses.
    """

    listen: str | None = None
    allow_public: bool = False
    behind_tls: bool = False
    origin: str | None = None
    rp_id: str | None = None
    idle_minutes: int = Field(default=15, ge=1, le=240)
    absolute_hours: int = Field(default=8, ge=1, le=24)
    trusted_proxies: tuple[str, ...] = ()
    # 20 at once: a delegation's handful of officers behind one NAT, each signing in with
    # 2 attempts (3 at the first login) and a typo or two, all in the same few minutes.
    # Then one every 30 s (120 an hour): a steady sign-in a minute for that office,
    # about 18 s of Argon2id an hour for whoever sprays passphrases from one address.
    login_attempts: int = Field(default=20, ge=1, le=1000)
    login_refill_seconds: int = Field(default=30, ge=1, le=3600)
    # Passphrase checks running at once, whoever sends them: each is an Argon2id run
    # (64 MiB, a core for ~150 ms). Sign-ins past these wait a moment, then are told
    # the console is busy: a spray from many addresses cannot take the host's memory.
    concurrent_unlocks: int = Field(default=2, ge=1, le=64)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _proxies_list(cls, value: Any) -> Any:
        # HRD_INTAKE_WEB_TRUSTED_PROXIES is one string: "127.0.0.1, ::1".
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return tuple(ip_network(entry, strict=False) for entry in self.trusted_proxies)

    @field_validator("listen")
    @classmethod
    def _listen_format(cls, value: str | None) -> str | None:
        if value is not None:
            parse_http_addr(value)
        return value

    @model_validator(mode="after")
    def _listen_on_loopback(self) -> WebSettings:
        if self.listen is not None and not self.allow_public:
            host, _ = parse_http_addr(self.listen)
            if host not in LOOPBACK_HOSTS:
                raise ValueError(
                    f"web listen {self.listen!r} is not on loopback: put the console behind "
                    "a TLS reverse proxy on this machine, or set [web] allow_public = true"
                )
        return self


def parse_http_addr(addr: str) -> tuple[str, int]:
    """`host:port` (`[::1]:9090` for IPv6) -> (host, port).

    Raises:
        ValueError: not host:port with a port from 0 to 65535.
    """
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected host:port, got {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)
