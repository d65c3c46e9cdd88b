"""The dashboard's network edge (issue 13), against the real app served by the real server (waitress) on a
free loopback port, with raw HTTP requests: host check (DNS rebinding), security headers, password lockout,
idle connections, odd URL values, and a data root served read-only."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import socket
import threading

import pytest

from dash_testdata import build_root
from test_dashboard_live import free_udp_port

from reengage.catalog import CATALOG_NAME
from reengage.dashboard.app import create_app, make_server
from reengage.dashboard.guard import SECURITY_HEADERS, host_name


@contextlib.contextmanager
def served(app):
    """``app`` served by waitress on a free port in a daemon thread; yields the port."""
    server = make_server(app, "127.0.0.1", 0)
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    try:
        yield server.effective_port
    finally:
        server.close()
        server.task_dispatcher.shutdown(timeout=2)


def request(port, method, path, *, host=None, body=None, auth=None, timeout=20):
    """One raw request; ``host`` overrides the Host header. Returns (status, headers, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Host": host or f"127.0.0.1:{port}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body)
    if auth is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    data = body.encode() if body is not None else None
    if data is not None:
        conn.putheader("Content-Length", str(len(data)))
    conn.endheaders(data)
    r = conn.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
    conn.close()
    return out


def page_payload(pathname: str) -> dict:
    """The Dash pages router's own callback, as the browser sends it when ``pathname`` is opened."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": pathname},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def patients_table_payload() -> dict:
    """The Patients page's table callback: the patient register, what a rebinding page would read."""
    outs = [("patients-list", "children"), ("register-rename-old", "options"), ("register-merge-from", "options"),
            ("register-merge-into", "options")]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outs],
        "inputs": [{"id": "patients-search", "property": "value", "value": None},
                   {"id": "patients-sort", "property": "value", "value": "subject"},
                   {"id": "register-version", "property": "data", "value": 0}],
        "changedPropIds": [],
        "state": [],
    }


def open_page(port, pathname, **kw):
    return request(port, "POST", "/_dash-update-component", body=page_payload(pathname), **kw)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("secroot")
    info = build_root(root, real=False)
    return root, info


@pytest.fixture(scope="module")
def port(root):
    app = create_app(root[0], live_port=free_udp_port())
    with served(app) as p:
        yield p


# ------------------------------------------------------------------------------------ DNS rebinding

ROUTES = [("GET", "/", None), ("POST", "/_dash-update-component", patients_table_payload()),
          ("GET", "/assets/reengage.css", None), ("GET", "/_reengage/live/cue?after=0", None)]


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:{port}", "127.0.0.1.attacker.example",
                                  "localhost.evil:{port}", "", "127.0.0.1:{port}@evil", "[::1]x"])
def test_foreign_host_names_are_refused_before_dash(port, method, path, body, host):
    status, headers, data = request(port, method, path, body=body, host=host.format(port=port) or " ")
    assert status == 421
    assert b"P001" not in data
    for k, v in SECURITY_HEADERS:
        assert headers[k.lower()] == v


@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST", "127.0.0.1"])
def test_loopback_host_names_are_answered_with_security_headers(port, method, path, body, host):
    status, headers, data = request(port, method, path, body=body, host=host.format(port=port))
    assert status in (200, 204), data[:300]
    for k, v in SECURITY_HEADERS:
        assert headers[k.lower()] == v
    if path == "/_dash-update-component":
        assert b"P001" in data


def test_the_configured_name_is_answered_in_network_mode(root, monkeypatch):
    monkeypatch.setenv("REENGAGE_DASH_USER", "clinic")
    monkeypatch.setenv("REENGAGE_DASH_PASSWORD", "s3cret")
    app = create_app(root[0], live_port=free_udp_port(), allowed_hosts=["emg.clinic.example"])
    with served(app) as p:
        assert request(p, "GET", "/", host=f"emg.clinic.example:{p}", auth=("clinic", "s3cret"))[0] == 200
        assert request(p, "GET", "/", host="other.clinic.example", auth=("clinic", "s3cret"))[0] == 421


def test_host_name_parsing():
    assert host_name("[::1]:8050") == "::1"
    assert host_name("LocalHost.:8050") == "localhost"
    assert host_name("127.0.0.1:80:80") is None
    assert host_name("a b") is None
    assert host_name("[::1") is None


# --------------------------------------------------------------------------- brute force, idle sockets

def test_repeated_wrong_passwords_lock_the_address_out_even_for_the_right_one(root, monkeypatch):
    monkeypatch.setenv("REENGAGE_DASH_USER", "clinic")
    monkeypatch.setenv("REENGAGE_DASH_PASSWORD", "s3cret")
    app = create_app(root[0], live_port=free_udp_port(), max_failures=3, lockout_s=60)
    now = [1000.0]
    app.server.wsgi_app.limiter.clock = lambda: now[0]  # the lockout's clock, moved by hand
    right = ("clinic", "s3cret")
    with served(app) as p:
        assert request(p, "GET", "/")[0] == 401  # no credentials: a challenge, not a guess
        for guess in ("a", "b", "c"):
            assert request(p, "GET", "/", auth=("clinic", guess))[0] == 401
        status, headers, _ = request(p, "GET", "/", auth=("clinic", "d"))
        assert status == 429 and int(headers["retry-after"]) > 0
        assert request(p, "GET", "/", auth=right)[0] == 429  # the right password waits out the lockout
        assert request(p, "POST", "/_dash-update-component", body=page_payload("/"), auth=right)[0] == 429
        now[0] += 61
        assert request(p, "GET", "/", auth=right)[0] == 200
        # a success forgets the earlier failures
        for guess in ("a", "b"):
            assert request(p, "GET", "/", auth=("clinic", guess))[0] == 401
        assert request(p, "GET", "/", auth=right)[0] == 200
        assert request(p, "GET", "/", auth=("clinic", "e"))[0] == 401


def test_idle_and_half_sent_connections_hold_no_threads(port):
    before = threading.active_count()
    socks = []
    try:
        for i in range(300):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                s.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())  # headers never finished
            socks.append(s)
        status, _, data = request(port, "POST", "/_dash-update-component", body=patients_table_payload())
        assert status == 200 and b"P001" in data
        # Werkzeug's threaded server held a thread per open connection (1000 sockets → 1000 threads).
        assert threading.active_count() - before < 50
    finally:
        for s in socks:
            s.close()


# --------------------------------------------------------------------------------- odd URL values

ODD = ["²", "99999999999999999999", "9223372036854775808", "nan", "inf", "-1", "0", "1e3", "%00", "%C2%B2",
       "%ff", "%01", " ", "..%2F..%2Fetc%2Fpasswd", "x" * 5000]


@pytest.mark.parametrize("value", ODD)
@pytest.mark.parametrize("route", ["/session/", "/patient/", "/report/"])
def test_odd_values_in_page_urls_get_not_found_not_500(port, route, value):
    from urllib.parse import unquote

    status, _, data = open_page(port, route + unquote(value, errors="surrogateescape"))
    assert status == 200, data[:500]
    assert b"not found" in data


@pytest.mark.parametrize("path", ["/session/%C2%B2", "/session/99999999999999999999", "/patient/%00",
                                  "/report/nan", "/nonexistent/%00"])
def test_odd_urls_load_the_app_shell(port, path):
    assert request(port, "GET", path)[0] == 200


# ------------------------------------------------------------------------------ read-only data root

def save_payload(session_id: int) -> dict:
    outs = [("session-edit-msg", "children"), ("session-summary", "children"), ("session-edits-wrap", "children")]
    states = [("session-id", "data", session_id), ("session-edit-phase", "value", 3),
              ("session-edit-pain", "value", 1), ("session-edit-notes", "value", "changed"),
              ("session-edit-who", "value", "AB")]
    return {
        "output": ".." + "...".join(f"{i}.{p}" for i, p in outs) + "..",
        "outputs": [{"id": i, "property": p} for i, p in outs],
        "inputs": [{"id": "session-edit-save", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["session-edit-save.n_clicks"],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
    }


def register_payload() -> dict:
    states = [("register-who", "value", "AB"), ("register-add-id", "value", "P009"),
              ("register-add-label", "value", None), ("register-rename-old", "value", None),
              ("register-rename-new", "value", None), ("register-merge-from", "value", None),
              ("register-merge-into", "value", None), ("register-version", "data", 0)]
    return {
        "output": "..register-msg.children...register-version.data..",
        "outputs": [{"id": "register-msg", "property": "children"}, {"id": "register-version", "property": "data"}],
        "inputs": [{"id": f"register-{b}", "property": "n_clicks", "value": 1 if b == "add" else None}
                   for b in ("add", "rename", "merge")],
        "changedPropIds": ["register-add.n_clicks"],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
    }


def test_a_read_only_data_root_is_served_read_only(tmp_path):
    build_root(tmp_path, real=False)
    catalog = tmp_path / CATALOG_NAME
    for p in [catalog, *tmp_path.glob(CATALOG_NAME + "-*")]:
        p.chmod(0o444)
    tmp_path.chmod(0o555)  # binds for other users; root ignores it, hence read_only=True (mode=ro opens only)
    try:
        before = hashlib.sha256(catalog.read_bytes()).hexdigest()
        app = create_app(tmp_path, live_port=free_udp_port(), read_only=True)
        with served(app) as p:
            for path in ("/", "/session/1", "/patient/P001", "/report/P001", "/live"):
                status, _, data = open_page(p, path)
                assert status == 200, (path, data[:300])
            for path in ("/", "/session/1"):
                assert b"editing is unavailable" in open_page(p, path)[2].lower()
            status, _, data = request(p, "POST", "/_dash-update-component", body=save_payload(1))
            assert status == 200 and b"Not saved: editing is unavailable" in data
            status, _, data = request(p, "POST", "/_dash-update-component", body=register_payload())
            assert status == 200 and b"Not done: editing is unavailable" in data
        assert hashlib.sha256(catalog.read_bytes()).hexdigest() == before
    finally:
        tmp_path.chmod(0o755)


def test_a_writable_data_root_still_takes_edits(tmp_path):
    """The read-only test's counterpart: the same requests write when the root is writable."""
    build_root(tmp_path, real=False)
    app = create_app(tmp_path, live_port=free_udp_port())
    with served(app) as p:
        assert b"editing is unavailable" not in open_page(p, "/session/1")[2].lower()
        status, _, data = request(p, "POST", "/_dash-update-component", body=save_payload(1))
        assert status == 200 and b"Saved:" in data


def test_an_unwritable_catalog_is_detected_without_configuration(tmp_path, monkeypatch):
    from reengage.dashboard import data

    build_root(tmp_path, real=False)
    assert not data.read_only(tmp_path)
    monkeypatch.setattr(data.os, "access", lambda path, mode: False)  # what a non-root user sees after chmod
    assert data.read_only(tmp_path)


def test_a_port_in_use_is_one_clear_error(root):
    from reengage.errors import ReengageError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        app = create_app(root[0], live_port=free_udp_port())
        with pytest.raises(ReengageError, match="cannot serve the dashboard on 127.0.0.1"):
            make_server(app, "127.0.0.1", s.getsockname()[1])
