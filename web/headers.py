"""Security headers on every answer of the web server (edge).

The page loads only its own scripts, styles and libraries (``web/static``) and talks
only to its own server (HTTP and websocket), so the Content-Security-Policy allows
exactly that, plus images from the configured basemap tile server. No page may frame
the map (clickjacking a dispatcher's buttons), nothing is sniffed into another type,
no referrer leaves, and the ``Server`` header names no software versions.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

SERVER = "citybrain"
"""The ``Server`` header of every answer: no software versions."""


def content_security_policy(tile_url: str | None) -> str:
    """The page's CSP; ``tile_url`` (a ``{z}/{x}/{y}`` template) adds its origin to images."""
    images = ["'self'", "data:", "blob:"]
    if tile_url:
        parts = urlsplit(tile_url.replace("{", "").replace("}", ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # style attributes in the markup
            f"img-src {' '.join(images)}",
            "connect-src 'self'",  # the API and the websocket, same host
            "worker-src 'self' blob:",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def setup(app: web.Application, tile_url: str | None) -> None:
    """Add the headers to every response of ``app`` just before it is sent."""
    policy = content_security_policy(tile_url)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers["Server"] = SERVER
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers["Referrer-Policy"] = "no-referrer"
        headers["X-Frame-Options"] = "DENY"
        headers["Content-Security-Policy"] = policy

    app.on_response_prepare.append(add_headers)
