"""Which Origin headers may open the websocket or change state."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from citybrain.config.access import Origin, allowed_set, parse_origin
from citybrain.config.settings import Settings
from web.origin import origin_allowed

ALLOWED = allowed_set(["https://ops.example.cn", "http://10.0.0.5:8080"])


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("http://127.0.0.1:8080", Origin("http", "127.0.0.1", 8080)),
        ("HTTPS://Map.Example.CN", Origin("https", "map.example.cn", 443)),
        ("http://[::1]:9000", Origin("http", "::1", 9000)),
        ("https://ops.example.cn/", Origin("https", "ops.example.cn", 443)),
    ],
)
def test_parse_origin(text: str, origin: Origin) -> None:
    assert parse_origin(text) == origin


@pytest.mark.parametrize(
    "text",
    [
        "null",
        "",
        "file://",
        "ws://127.0.0.1:8080",
        "https://",
        "https://ops.example.cn/map",
        "https://user@ops.example.cn",
        "https://ops.example.cn:99999",
        "https://ops.example.cn?x=1",
    ],
)
def test_not_an_origin(text: str) -> None:
    with pytest.raises(ValueError, match="origin"):
        parse_origin(text)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "127.0.0.1:8080", True),  # not a browser page: left to the token checks
        ("http://127.0.0.1:8080", "127.0.0.1:8080", True),  # the server's own page
        ("https://map.example.cn", "map.example.cn", True),  # default port on both sides
        ("https://map.example.cn:443", "MAP.example.cn", True),
        ("http://map.example.cn", "map.example.cn:80", True),
        ("http://[::1]:8080", "[::1]:8080", True),
        ("https://ops.example.cn", "127.0.0.1:8080", True),  # allow-listed
        ("https://ops.example.cn:443", "127.0.0.1:8080", True),
        ("http://10.0.0.5:8080", "map.example.cn", True),
        ("http://evil.example", "127.0.0.1:8080", False),  # another site
        ("http://127.0.0.1:9999", "127.0.0.1:8080", False),  # another port is another origin
        ("https://map.example.cn", "map.example.cn:8443", False),
        ("http://ops.example.cn", "127.0.0.1:8080", False),  # allow-listed over https only
        ("http://10.0.0.5", "map.example.cn", False),
        ("null", "127.0.0.1:8080", False),  # sandboxed frames, local files
        ("http://127.0.0.1:8080", None, False),  # no Host to compare with
        ("http://127.0.0.1:8080", "127.0.0.1:bad", False),
        ("http://127.0.0.1:8080", "127.0.0.1:8080/x", False),
    ],
)
def test_origin_allowed(origin: str | None, host: str | None, allowed: bool) -> None:
    assert origin_allowed(origin, host, ALLOWED) is allowed


def test_allowed_origins_setting_is_checked_at_start() -> None:
    ok = Settings().with_overrides(web={"allowed_origins": ["https://ops.example.cn"]})
    assert ok.web.allowed_origins == ["https://ops.example.cn"]
    with pytest.raises(ValidationError, match=r"allowed_origins[\s\S]*ops.example.cn/map"):
        Settings().with_overrides(web={"allowed_origins": ["https://ops.example.cn/map"]})
