"""Which address a request comes from, for the limit on sign-in attempts.

The console listens on loopback behind the operator's TLS reverse proxy, so
the connection's peer is usually the proxy, for every officer alike. The
proxy says who its client was in `X-Forwarded-For`, but so can anyone else:
the header is believed only when the peer is one of `[web] trusted_proxies`.
Then the entries are read from the right (each proxy appends the peer it
saw): the first one that is not itself a trusted proxy is the client. The
entries to its left were written by that client and prove nothing. An entry
that does not parse as an address stops the walk at the proxy that wrote it
(its attempts count against that proxy: lumped together, never let through).

Nothing is trusted by default: then every attempt counts against the peer,
and behind a proxy all officers share one allowance (the console warns once
in its log when requests carry the header it ignores).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address

from intake.listening import Network

__all__ = ["UNKNOWN", "client_address"]

UNKNOWN = "unknown"  # no peer address (a Unix socket): all such attempts share one bucket


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[Network]
) -> str:
    """The client's address: the peer, or what the trusted proxies in front of it saw.

    Args:
        peer: the connection's peer address (ASGI `client`), None if it has none.
        forwarded_for: the values of every `X-Forwarded-For` header, in order.
        trusted: the networks of the reverse proxies whose header is believed.
    """
    if peer is None:
        return UNKNOWN
    nearest = _parse(peer)
    if nearest is None or not _trusted(nearest, trusted):
        return str(nearest) if nearest is not None else peer
    hops = [part.strip() for value in forwarded_for for part in value.split(",")]
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            break  # garbage from a trusted proxy: count against that proxy
        nearest = parsed
        if not _trusted(parsed, trusted):
            break
    return str(nearest)


def _trusted(address: IPv4Address | IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    """An address as proxies write it: bare, `[v6]` or `[v6]:port`, or `v4:port`."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        parsed = ip_address(text)
    except ValueError:
        return None
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped  # a dual-stack socket's view of an IPv4 client
    return parsed
