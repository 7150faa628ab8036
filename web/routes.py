"""HTTP answers of the web server: the page, its static files, and ``/api`` responses.

Everything is local: the page and its vendored libraries come from ``web/static``.
Errors use the one JSON shape of :func:`web.guard.error_response`.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from web.guard import error_response

STATIC_DIR = Path(__file__).resolve().parent / "static"


def response(status: int, body: bytes, content_type: str, cache: str = "no-cache") -> web.Response:
    """A response with ``body`` as is; ``content_type`` may carry parameters (charset)."""
    return web.Response(
        status=status,
        body=body,
        headers={
            "Content-Type": content_type,
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
        },
    )


def json_response(data: Any, status: int = 200) -> web.Response:
    return response(status, orjson.dumps(data), "application/json")


def error(status: int, message: str) -> web.Response:
    return error_response(status, message)


def static_file(path: str) -> web.StreamResponse:
    """A file under ``web/static`` for a URL path; 404 for anything outside it.

    Vendored libraries may be cached for an hour; the page itself is revalidated
    (``no-cache``; ETag and Last-Modified allow 304 answers).
    """
    relative = "index.html" if path in ("", "/") else path.lstrip("/")
    target = (STATIC_DIR / relative).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return error(404, f"no such file: {path}")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    cache = "public, max-age=3600" if relative.startswith("vendor/") else "no-cache"
    return web.FileResponse(
        target,
        headers={
            "Content-Type": content_type,
            "Cache-Control": cache,
            "X-Content-Type-Options": "nosniff",
        },
    )
