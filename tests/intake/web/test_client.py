"""Which address a request comes from: the peer, or what trusted proxies saw (pure)."""

from __future__ import annotations

from ipaddress import ip_network

from intake.web.client import UNKNOWN, client_address

LOOPBACK = (ip_network("127.0.0.1"), ip_network("::1"))
CHAIN = (ip_network("127.0.0.1"), ip_network("10.0.0.0/8"))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    assert client_address("192.0.2.4", ["203.0.113.7"], LOOPBACK) == "192.0.2.4"


def test_the_nearest_untrusted_hop_is_the_client() -> None:
    # The client wrote the first entry itself; the proxy appended the peer it saw.
    assert client_address("127.0.0.1", ["198.51.100.20, 203.0.113.7"], LOOPBACK) == "203.0.113.7"
    # Two proxies of ours: the edge (10.x) appended the client, the local one the edge.
    forwarded = ["198.51.100.20, 203.0.113.7, 10.1.2.3"]
    assert client_address("127.0.0.1", forwarded, CHAIN) == "203.0.113.7"
    # Several headers read as one list, in order.
    assert client_address("127.0.0.1", ["198.51.100.20", "203.0.113.7"], LOOPBACK) == "203.0.113.7"


def test_a_trusted_peer_without_a_header_is_the_client() -> None:
    assert client_address("127.0.0.1", [], LOOPBACK) == "127.0.0.1"
    assert client_address("127.0.0.1", ["10.1.2.3"], CHAIN) == "10.1.2.3"  # all ours: the first


def test_garbage_stops_at_the_proxy_that_wrote_it() -> None:
    assert client_address("127.0.0.1", ["203.0.113.7, unknown"], LOOPBACK) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.7, "], LOOPBACK) == "127.0.0.1"


def test_addresses_as_proxies_write_them() -> None:
    assert client_address("127.0.0.1", ["[2001:db8::7]:4711"], LOOPBACK) == "2001:db8::7"
    assert client_address("127.0.0.1", ["2001:DB8::7"], LOOPBACK) == "2001:db8::7"
    assert client_address("127.0.0.1", ["203.0.113.7:4711"], LOOPBACK) == "203.0.113.7"
    # A dual-stack socket shows IPv4 peers as mapped IPv6: the IPv4 networks still match.
    assert client_address("::ffff:127.0.0.1", ["203.0.113.7"], LOOPBACK) == "203.0.113.7"
    assert client_address("::ffff:192.0.2.4", [], LOOPBACK) == "192.0.2.4"


def test_a_peer_that_is_no_address() -> None:
    assert client_address(None, ["203.0.113.7"], LOOPBACK) == UNKNOWN
    assert client_address("testclient", ["203.0.113.7"], LOOPBACK) == "testclient"
