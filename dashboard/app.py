"""The clinician dashboard: a Dash multi-page app (``dash.register_page`` in ``pages/``).

``create_app(data_root)`` builds the app (tests call it); ``serve(data_root, host, port)`` runs it through
waitress. Security (issues 6 and 13, docs/dashboard.md): binds 127.0.0.1 by default; any other host is refused
unless HTTP basic authentication is configured with ``REENGAGE_DASH_USER`` and ``REENGAGE_DASH_PASSWORD``; when
both are set every request must carry them, whatever the host. ``dashboard/guard.py`` answers only the
configured host names and locks out an address after repeated wrong passwords.
"""

from __future__ import annotations

import os
from pathlib import Path

import dash
from dash import dcc, html

from reengage.dashboard.guard import LOOPBACK_NAMES, Guard
from reengage.errors import ReengageError

LOOPBACK = set(LOOPBACK_NAMES)
# waitress: connections are multiplexed by one I/O thread, so idle or half-sent requests cost a socket, not a
# thread; THREADS only run complete requests (the live cue's 1 s long poll holds one while it waits).
THREADS = 16
CONNECTION_LIMIT = 1000
CHANNEL_TIMEOUT_S = 30  # an idle connection is closed after this long
MAX_BODY_BYTES = 16 * 2**20  # Dash callback payloads are a few kB


def _credentials() -> tuple[str, str] | None:
    user, pw = os.environ.get("REENGAGE_DASH_USER"), os.environ.get("REENGAGE_DASH_PASSWORD")
    return (user, pw) if user and pw else None


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ReengageError(f"{name}={raw!r}: not a number") from None
    if not value > 0:
        raise ReengageError(f"{name}={raw!r}: must be above 0")
    return value


def _env_hosts() -> list[str]:
    return [h for h in os.environ.get("REENGAGE_DASH_ALLOWED_HOSTS", "").replace(",", " ").split() if h]


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _nav() -> html.Nav:
    return html.Nav(
        className="re-nav no-print",
        children=[
            html.Span("reengage", className="re-brand"),
            dcc.Link("Patients", href="/", className="re-navlink"),
            dcc.Link("Live", href="/live", className="re-navlink"),
        ],
    )


def create_app(data_root: Path | str, *, live_port: int | None = None, allowed_hosts=(),
               read_only: bool | None = None, max_failures: int | None = None,
               lockout_s: float | None = None) -> dash.Dash:
    """The dashboard app over ``data_root`` (which holds ``catalog.sqlite`` and the recordings); the live
    page listens on ``live_port`` (default ``$REENGAGE_LIVE_PORT`` or 8051, see ``dashboard/LIVE.md``).

    ``allowed_hosts``: host names answered besides the loopback names (also ``$REENGAGE_DASH_ALLOWED_HOSTS``).
    ``read_only`` (also ``$REENGAGE_DASH_READONLY``): the catalog is only ever opened ``mode=ro`` and the edit
    forms say editing is unavailable; also on when the data root or its catalog is not writable.
    ``max_failures`` wrong passwords from one address lock it out for ``lockout_s`` seconds (also
    ``$REENGAGE_DASH_MAX_FAILURES``, ``$REENGAGE_DASH_LOCKOUT_S``; 10 and 300 s by default)."""
    # Page modules are re-executed for every app and register their callbacks globally; a previous app
    # built in this process that never served a request would leave duplicates behind.
    from dash import _callback

    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_CALLBACK_MAP.clear()
    app = dash.Dash(
        "reengage.dashboard",
        use_pages=True,
        pages_folder="pages",
        title="reengage — glute re-engagement",
        suppress_callback_exceptions=True,
        update_title=None,
    )
    app.server.config["REENGAGE_DATA_ROOT"] = str(Path(data_root).resolve())
    app.server.config["REENGAGE_READ_ONLY"] = bool(read_only) or _env_flag("REENGAGE_DASH_READONLY")
    if live_port is not None:
        app.server.config["REENGAGE_LIVE_PORT"] = int(live_port)
    app.server.wsgi_app = Guard(
        app.server.wsgi_app, allowed_hosts=[*allowed_hosts, *_env_hosts()], credentials=_credentials(),
        max_failures=int(max_failures or _env_number("REENGAGE_DASH_MAX_FAILURES", 10)),
        lockout_s=float(lockout_s or _env_number("REENGAGE_DASH_LOCKOUT_S", 300.0)),
    )
    app.layout = html.Div([_nav(), html.Main(dash.page_container, className="re-main")])
    from reengage.dashboard import live

    server = app.server
    live.install_routes(server)
    return app


def make_server(app: dash.Dash, host: str, port: int):
    """A waitress server for ``app`` bound to ``host``:``port`` (``.run()`` serves, ``.close()`` stops);
    a port in use or an address that cannot be bound raises ReengageError."""
    from waitress import create_server

    try:
        return create_server(
            app.server, host=host, port=int(port), threads=THREADS, connection_limit=CONNECTION_LIMIT,
            channel_timeout=CHANNEL_TIMEOUT_S, cleanup_interval=5, asyncore_use_poll=True,
            max_request_body_size=MAX_BODY_BYTES, ident="reengage", expose_tracebacks=False,
        )
    except OSError as e:
        raise ReengageError(f"cannot serve the dashboard on {host}:{port}: {e.strerror or e}") from None


def serve(data_root: Path | str, host: str = "127.0.0.1", port: int = 8050, *, allowed_hosts=(),
          read_only: bool | None = None) -> None:
    """Serve the dashboard; refuses a non-loopback host unless authentication is configured. Served beyond
    loopback, the bound address itself and ``allowed_hosts`` are the host names answered."""
    if host not in LOOPBACK and _credentials() is None:
        raise ReengageError(
            f"refusing to serve the dashboard on {host}: patient data would be reachable from the network "
            "without a password. Set REENGAGE_DASH_USER and REENGAGE_DASH_PASSWORD to enable basic "
            "authentication (use it behind HTTPS), or keep the default host 127.0.0.1"
        )
    names = [*allowed_hosts] + ([] if host in ("0.0.0.0", "::", "") else [host])
    app = create_app(data_root, allowed_hosts=names, read_only=read_only)
    server = make_server(app, host, port)
    print(f"reengage dashboard on http://{'[' + host + ']' if ':' in host else host}:{server.effective_port}/",
          flush=True)
    try:
        server.run()
    finally:
        server.close()
