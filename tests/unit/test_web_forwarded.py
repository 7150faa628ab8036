"""The caller behind trusted proxies (web/forwarded.py): X-Forwarded-For is believed only
from a trusted peer and only as far as its hops are trusted."""

from __future__ import annotations

import pytest

from citybrain.config.access import networks
from web.forwarded import client_address, trusted

PROXIES = networks(["172.28.0.2", "10.1.0.0/16"])


def test_networks_are_read_from_addresses_and_cidrs() -> None:
    assert [str(n) for n in networks(["172.28.0.2", "10.1.0.0/16", "fd00::1/64"])] == [
        "172.28.0.2/32",
        "10.1.0.0/16",
        "fd00::/64",
    ]
    with pytest.raises(ValueError, match="not an IP address or network: 'lb'"):
        networks(["lb"])


def test_trusted() -> None:
    assert trusted("172.28.0.2", PROXIES) and trusted("10.1.200.3", PROXIES)
    assert not trusted("172.28.0.3", PROXIES)
    assert not trusted(None, PROXIES) and not trusted("proxy", PROXIES)


@pytest.mark.parametrize(
    ("peer", "forwarded", "caller"),
    [
        # no header: the peer
        ("172.28.0.2", [], "172.28.0.2"),
        # the proxy appended its caller
        ("172.28.0.2", ["203.0.113.9"], "203.0.113.9"),
        # the caller sent its own header: only the rightmost untrusted hop counts
        ("172.28.0.2", ["1.2.3.4, 203.0.113.9"], "203.0.113.9"),
        ("172.28.0.2", ["1.2.3.4", "203.0.113.9"], "203.0.113.9"),  # two header lines
        # two trusted proxies in a row
        ("172.28.0.2", ["1.2.3.4, 203.0.113.9, 10.1.4.4"], "203.0.113.9"),
        # IPv6, spelled in brackets or not, comes back canonical
        ("172.28.0.2", ["[2001:DB8::1]"], "2001:db8::1"),
        # garbage where the caller should be: the proxy that saw it
        ("172.28.0.2", ["1.2.3.4, not-an-address"], "172.28.0.2"),
        ("172.28.0.2", ["not-an-address, 10.1.4.4"], "10.1.4.4"),
        # every hop trusted: the farthest
        ("172.28.0.2", ["10.1.0.9, 10.1.4.4"], "10.1.0.9"),
        # empty entries are skipped
        ("172.28.0.2", [" , 203.0.113.9 ,"], "203.0.113.9"),
    ],
)
def test_a_trusted_proxys_caller(peer: str, forwarded: list[str], caller: str) -> None:
    assert client_address(peer, forwarded, PROXIES) == caller


def test_the_header_from_anyone_else_is_ignored() -> None:
    assert client_address("203.0.113.9", ["1.2.3.4"], PROXIES) == "203.0.113.9"
    assert client_address("172.28.0.2", ["1.2.3.4"], ()) == "172.28.0.2"  # nobody trusted
    assert client_address(None, ["1.2.3.4"], PROXIES) is None
