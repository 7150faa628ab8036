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


MAX_PATH_BYTES = 1024
"""Longer page-file paths are refused without looking at the file system."""
MAX_NAME_BYTES = 255
"""Longer path segments too (the file system would raise rather than answer "no")."""


def static_relative(path: str) -> str | None:
    """The file under ``web/static`` that the URL path ``path`` names, relative to it, or
    None when it names none that could be served (pure: the file system is not asked).

    Only canonical paths qualify: printable text (no NUL, no control characters, no
    undecodable bytes), at most :data:`MAX_PATH_BYTES`, segments of at most
    :data:`MAX_NAME_BYTES`, no empty, ``.`` or ``..`` segment and no backslash. ``/``
    names ``index.html``.
    """
    if path in ("", "/"):
        return "index.html"
    relative = path.removeprefix("/")
    if not relative.isprintable() or "\\" in relative:
        return None
    if len(relative.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") or len(part.encode()) > MAX_NAME_BYTES for part in parts):
        return None
    return relative


def static_file(path: str) -> web.StreamResponse:
    """A file under ``web/static`` for a URL path; 404 for anything else.

    The path must be canonical (:func:`static_relative`): a file is served under one
    name only, and the access log may write that name (web/access_log.py). Links inside
    ``web/static`` (``vendor`` may be one) are followed; nothing leads outside it but
    such a link. Vendored libraries may be cached for an hour; the page itself is
    revalidated (``no-cache``; ETag and Last-Modified allow 304 answers).
    """
    relative = static_relative(path)
    if relative is None:
        return error(404, "no such file")  # the path is not repeated: it may not be text
    target = STATIC_DIR / relative
    if not target.is_file():
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
