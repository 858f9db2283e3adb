"""Gunicorn's own refusals in the API's error envelope.

Gunicorn answers some requests before Django sees them: a request line or a header field over
its limits (414, 431), a malformed request line, header or chunk (400), a transfer coding it
does not support (501). It writes those as an HTML page; :func:`write_error` writes the same
status and reason as the JSON envelope every other 4xx/5xx of the API uses. ``config/gunicorn.py``
installs it; gunicorn's worker still logs the refusal once (``Invalid request from ip=...``).
"""

import json
import re

from gunicorn import util


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    from bazaar.common.errors import envelope  # in a worker, once Django is loaded

    code = re.sub(r"\W+", "_", reason.strip().lower()).strip("_") or "error"
    body = json.dumps(envelope(code=code, message=mesg or reason)).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """Replace gunicorn's HTML writer; its workers call ``util.write_error`` by module lookup."""
    util.write_error = write_error
