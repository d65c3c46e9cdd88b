"""The clinician dashboard: a Dash multi-page app (``dash.register_page`` in ``pages/``).

``create_app(data_root)`` builds the app (tests call it); ``serve(data_root, host, port)`` runs it.
Security (issue 6): binds 127.0.0.1 by default; any other host is refused unless HTTP basic
authentication is configured with ``REENGAGE_DASH_USER`` and ``REENGAGE_DASH_PASSWORD``; when both are
set every request must carry them, whatever the host.
"""

from __future__ import annotations

import base64
import hmac
import os
from pathlib import Path

import dash
from dash import dcc, html

from reengage.errors import ReengageError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _credentials() -> tuple[str, str] | None:
    user, pw = os.environ.get("REENGAGE_DASH_USER"), os.environ.get("REENGAGE_DASH_PASSWORD")
    return (user, pw) if user and pw else None


def _install_basic_auth(server, user: str, password: str) -> None:
    import flask

    expected = base64.b64encode(f"{user}:{password}".encode()).decode()

    @server.before_request
    def _require_auth():
        header = flask.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic" and hmac.compare_digest(token.strip().encode(), expected.encode()):
            return None
        return flask.Response("Authentication required", 401, {"WWW-Authenticate": 'Basic realm="reengage"'})


def _nav() -> html.Nav:
    return html.Nav(
        className="re-nav no-print",
        children=[
            html.Span("reengage", className="re-brand"),
            dcc.Link("Patients", href="/", className="re-navlink"),
            dcc.Link("Live", href="/live", className="re-navlink"),
        ],
    )


def create_app(data_root: Path | str, *, live_port: int | None = None) -> dash.Dash:
    """The dashboard app over ``data_root`` (which holds ``catalog.sqlite`` and the recordings); the live
    page listens on ``live_port`` (default ``$REENGAGE_LIVE_PORT`` or 8051, see ``dashboard/LIVE.md``)."""
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
    if live_port is not None:
        app.server.config["REENGAGE_LIVE_PORT"] = int(live_port)
    creds = _credentials()
    if creds:
        _install_basic_auth(app.server, *creds)
    app.layout = html.Div([_nav(), html.Main(dash.page_container, className="re-main")])
    from reengage.dashboard import live

    server = app.server
    live.install_routes(server)
    return app


def serve(data_root: Path | str, host: str = "127.0.0.1", port: int = 8050) -> None:
    """Serve the dashboard; refuses a non-loopback host unless authentication is configured."""
    if host not in LOOPBACK and _credentials() is None:
        raise ReengageError(
            f"refusing to serve the dashboard on {host}: patient data would be reachable from the network "
            "without a password. Set REENGAGE_DASH_USER and REENGAGE_DASH_PASSWORD to enable basic "
            "authentication (use it behind HTTPS), or keep the default host 127.0.0.1"
        )
    app = create_app(data_root)
    app.run(host=host, port=int(port), debug=False)
