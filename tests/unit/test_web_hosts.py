"""Host header checks against DNS rebinding (web/hosts.py) and host names as settings
read them (citybrain/config/access.py)."""

from __future__ import annotations

import pytest

from citybrain.config.access import host_name
from web.hosts import allowed_hosts, host_allowed

NAMES = allowed_hosts("0.0.0.0", ["https://ops.example.cn"], ["Map.Example.CN."])


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Map.Example.CN:8080", "map.example.cn"),
        ("map.example.cn.", "map.example.cn"),
        ("[::1]:8080", "::1"),
        ("::1", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[0:0::1]", "::1"),
    ],
)
def test_host_names_are_normalised(text: str, name: str) -> None:
    assert host_name(text) == name


@pytest.mark.parametrize("text", ["", "user@map.example.cn", "a/b", "a:99999", "a:x", " "])
def test_what_is_not_a_host_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a host"):
        host_name(text)


def test_the_servers_names() -> None:
    assert set(NAMES) == {"localhost", "ops.example.cn", "map.example.cn"}
    # a listen address that is a name is one of them; addresses need no listing
    assert allowed_hosts("citybrain-web", [], []) == {"localhost", "citybrain-web"}
    assert allowed_hosts("127.0.0.1", [], []) == {"localhost"}


@pytest.mark.parametrize(
    "host",
    [
        None,  # HTTP/1.0 health checks send none; browsers always do
        "127.0.0.1:8080",
        "10.20.0.7",
        "[::1]:8080",
        "localhost:8080",
        "LOCALHOST",
        "ops.example.cn:443",
        "map.example.cn",
        "map.example.cn.:8080",
    ],
)
def test_own_names_and_any_address_are_allowed(host: str | None) -> None:
    assert host_allowed(host, NAMES)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",  # a DNS-rebinding page names its own host
        "evil.example:8080",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "map.example.cn.evil.example",
        "",
        "user@127.0.0.1",
        "127.0.0.1:notaport",
    ],
)
def test_other_names_and_malformed_hosts_are_refused(host: str) -> None:
    assert not host_allowed(host, NAMES)
