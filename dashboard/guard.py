"""The dashboard's network edge, as WSGI middleware in front of Flask and Dash (docs/dashboard.md, Security).

Every request passes, in this order, before any Dash code runs:

1. **Host check** (DNS rebinding): a page on ``attacker.example`` whose name is re-pointed at 127.0.0.1 reaches
   this server from the clinician's own browser with ``Host: attacker.example``; only loopback names and the
   names configured for network mode are answered, anything else gets 421.
2. **Lockout** (password guessing): an address that sent ``max_failures`` wrong passwords within
   ``lockout_s`` gets 429 for every request, the right password included, until ``lockout_s`` has passed since
   its last failure.
3. **Basic authentication**, when configured.

Every response, refusals included, carries headers that stop another site from framing the pages
(clickjacking), the browser from guessing content types, and the URL (a patient id) from leaking as a referrer.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
SECURITY_HEADERS = [
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
]
MAX_TRACKED_ADDRESSES = 10_000  # bounds the failure table when guesses come from many addresses


def host_name(host_header: str) -> str | None:
    """The name in a ``Host`` header without its port (``[::1]:8050`` → ``::1``), lower case; None when the
    header is not a plain name or address with an optional numeric port."""
    h = host_header.strip().lower()
    if h.startswith("["):
        name, sep, rest = h[1:].partition("]")
        if not sep or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
    else:
        name, _, port = h.partition(":")
        if port and not port.isdigit():
            return None
    name = name.rstrip(".")
    if not name or not all(c.isalnum() or c in "-._:" for c in name) or not name.isascii():
        return None
    return name


@dataclass
class _Failures:
    count: int
    last: float


class FailureLimiter:
    """Wrong passwords per client address; an address with ``max_failures`` of them, each within ``window_s`` of
    the previous one, is locked out until ``window_s`` after its last failure."""

    def __init__(self, max_failures: int, window_s: float, clock=time.monotonic) -> None:
        self.max_failures, self.window_s, self.clock = int(max_failures), float(window_s), clock
        self._table: OrderedDict[str, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, addr: str) -> float:
        """Seconds until ``addr`` may try again; 0 when it is not locked out."""
        with self._lock:
            f = self._table.get(addr)
            if f is None:
                return 0.0
            left = f.last + self.window_s - self.clock()
            if left <= 0:
                del self._table[addr]
                return 0.0
            return left if f.count >= self.max_failures else 0.0

    def failed(self, addr: str) -> None:
        now = self.clock()
        with self._lock:
            f = self._table.pop(addr, None)
            if f is None or now - f.last > self.window_s:
                f = _Failures(0, now)
            f.count, f.last = f.count + 1, now
            self._table[addr] = f
            while len(self._table) > MAX_TRACKED_ADDRESSES:
                self._table.popitem(last=False)

    def succeeded(self, addr: str) -> None:
        with self._lock:
            self._table.pop(addr, None)


def _basic_credentials(environ) -> tuple[str, str] | None:
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, pw = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    return (user, pw) if sep else ("", "")


class Guard:
    """WSGI middleware: host check, lockout and basic authentication in front of ``app``; security headers on
    every response. ``credentials`` None: no authentication (loopback only, see ``app.serve``)."""

    def __init__(self, app, *, allowed_hosts=(), credentials: tuple[str, str] | None = None,
                 max_failures: int = 10, lockout_s: float = 300.0) -> None:
        self.app = app
        self.allowed = LOOPBACK_NAMES | {h.strip().lower().strip("[]") for h in allowed_hosts if h.strip()}
        self.credentials = credentials
        self.limiter = FailureLimiter(max_failures, lockout_s)

    def __call__(self, environ, start_response):
        def with_headers(status, headers, exc_info=None):
            names = {k.lower() for k, _ in headers}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k.lower() not in names]
            return start_response(status, list(headers) + extra, exc_info)

        refusal = self._refusal(environ)
        if refusal is not None:
            status, headers, body = refusal
            with_headers(status, headers + [("Content-Type", "text/plain; charset=utf-8"),
                                            ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, with_headers)

    def _refusal(self, environ) -> tuple[str, list, bytes] | None:
        host = host_name(environ.get("HTTP_HOST") or "")
        if host is None or host not in self.allowed:
            return "421 Misdirected Request", [], b"This server does not answer to that host name.\n"
        if self.credentials is None:
            return None
        addr = environ.get("REMOTE_ADDR") or "?"
        wait = self.limiter.retry_after(addr)
        if wait > 0:
            return ("429 Too Many Requests", [("Retry-After", str(int(wait) + 1))],
                    b"Too many wrong passwords from this address; try again later.\n")
        given = _basic_credentials(environ)
        if given is not None:
            ok_user = hmac.compare_digest(given[0].encode(), self.credentials[0].encode())
            ok_pw = hmac.compare_digest(given[1].encode(), self.credentials[1].encode())
            if ok_user and ok_pw:
                self.limiter.succeeded(addr)
                return None
            self.limiter.failed(addr)
        # A request without credentials (a browser's first) is not a guess: it only gets the challenge.
        return "401 Unauthorized", [("WWW-Authenticate", 'Basic realm="reengage"')], b"Authentication required\n"
