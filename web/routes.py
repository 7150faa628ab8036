"""HTTP answers of the web server: the page, its static files, and ``/api``.

Served from the websockets handshake hook (GET only); everything is local:
the page and its vendored libraries come from ``web/static``.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

import orjson
from websockets.datastructures import Headers
from websockets.http11 import Response

STATIC_DIR = Path(__file__).resolve().parent / "static"

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def response(status: int, body: bytes, content_type: str, cache: str = "no-cache") -> Response:
    headers = Headers()
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Cache-Control"] = cache
    headers["X-Content-Type-Options"] = "nosniff"
    return Response(status, _REASONS.get(status, "OK"), headers, body)


def json_response(data: Any, status: int = 200) -> Response:
    return response(status, orjson.dumps(data), "application/json")


def error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


def static_file(path: str) -> Response:
    """A file under ``web/static`` for a URL path; 404 for anything outside it."""
    relative = "index.html" if path in ("", "/") else path.lstrip("/")
    target = (STATIC_DIR / relative).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return error(404, f"no such file: {path}")
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if content_type.startswith("text/") or content_type.endswith("javascript"):
        content_type += "; charset=utf-8"
    cache = "public, max-age=3600" if relative.startswith("vendor/") else "no-cache"
    return response(200, target.read_bytes(), content_type, cache)
