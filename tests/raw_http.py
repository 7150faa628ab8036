"""A raw HTTP/1.1 request line and headers, for tests that send bytes a client library
would refuse or rewrite (over-long lines, NUL bytes, tokens in odd places)."""


def get(target: bytes, *headers: bytes) -> bytes:
    """``GET target`` to ``localhost`` asking the server to close, with ``headers`` (each
    without its line end)."""
    extra = b"".join(h + b"\r\n" for h in headers)
    return (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        + extra
        + b"\r\n"
    )
