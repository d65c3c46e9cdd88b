"""The live protocol's edge: the shared key that authenticates the stream, signing, and the schema every
datagram is checked against before the dashboard uses any of it (``dashboard/LIVE.md``, "Trust").

The dashboard's receiver listens on a loopback port that any local process can send to, so a datagram is
untrusted input until proven otherwise: first its HMAC (a key only the user's own processes can read), then
its shape and bounds (a bug in a recorder must not take the view down either, nor make it allocate without
limit). Sans I/O apart from the key file: :func:`open_datagram` takes bytes and returns a :class:`Verdict`,
the checked message or why it was dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import secrets
import stat
from pathlib import Path
from typing import NamedTuple

import numpy as np

from reengage.errors import InputError, ReengageError

PROTOCOL_VERSION = 3  # 3: every datagram carries an HMAC ("mac"); 2 had none
MAX_DATAGRAM = 60_000  # bytes of JSON a publisher puts in one datagram
MAX_PAYLOAD = 65_507  # the most a UDP datagram over IPv4 can carry: anything longer is not ours
FS_MIN_HZ, FS_MAX_HZ = 1.0, 20_000.0
MAX_CHANNELS = 16
MAX_VALUES = MAX_DATAGRAM // 2  # samples × channels in one datagram: JSON needs ≥ 2 bytes a number ("0,")
MAX_INDEX = 2 ** 53  # board sample indices and times in ns stay exact in a JSON number (a double)
MAX_TEXT = 256  # subject, task, channel names, labels, units
MAX_SESSION = 4096  # the session is the recording's path
MAX_DETECTIONS = 1000
STATES = ("recording", "replaying", "stopped")
KEY_BYTES = 32

_MAC_HEAD = b',"mac":"'
_MAC_HEX = 2 * hashlib.sha256().digest_size
_MAC_TAIL = len(_MAC_HEAD) + _MAC_HEX + len(b'"}')


class Verdict(NamedTuple):
    """What :func:`open_datagram` made of a datagram: ``msg``, checked, or ``None`` and ``dropped``, the
    cause: "unsigned" (no valid HMAC: not from a process holding the key) or "malformed" (signed, but not a
    message of this protocol within its bounds), with ``why`` in words."""
    msg: dict | None
    dropped: str | None = None
    why: str = ""


# -------------------------------------------------------------------------------------- the key

def key_dir() -> Path:
    """Where the live key lives: ``$REENGAGE_LIVE_KEY_DIR``, else ``$XDG_RUNTIME_DIR/reengage`` (per login
    session, private to the user, emptied at logout), else ``~/.reengage/run``."""
    if os.environ.get("REENGAGE_LIVE_KEY_DIR"):
        return Path(os.environ["REENGAGE_LIVE_KEY_DIR"])
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run and os.path.isdir(run):
        return Path(run) / "reengage"
    return Path.home() / ".reengage" / "run"


def _private(st: os.stat_result, what: Path) -> None:
    """Another user who can write the directory could swap the key; one who can read the file could forge."""
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ReengageError(f"live view: {what} must belong to you and be private (chmod go-rwx, or remove it)")


def live_key(port: int) -> bytes:
    """The HMAC key shared by the recorder and the dashboard on ``port``: read from ``key_dir()/live-PORT.key``,
    created there (mode 0600, in a 0700 directory) by whichever of the two comes first. Raises
    :class:`reengage.errors.ReengageError` if the directory or the file is not private to this user."""
    d = key_dir()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    _private(os.stat(d), d)
    path = d / f"live-{int(port)}.key"
    if not path.exists():
        # Written whole under a temporary name, then linked: a reader never sees half a key, and of two
        # processes starting together the second link fails and both read the first one's key.
        tmp = d / f".live-{int(port)}-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(KEY_BYTES))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as f:
        st = os.fstat(f.fileno())
        _private(st, path)
        if not stat.S_ISREG(st.st_mode):
            raise ReengageError(f"live view: {path} is not a regular file")
        try:
            key = bytes.fromhex(f.read(4 * KEY_BYTES).strip())
        except ValueError:
            key = b""
    if len(key) < KEY_BYTES:
        raise ReengageError(f"live view: {path} does not hold a key (remove it: the next start makes one)")
    return key


# -------------------------------------------------------------------------------------- signing

def seal(msg: dict, key: bytes) -> bytes:
    """``msg`` as the datagram's bytes: compact JSON (no NaN) with ``"mac"``, the HMAC-SHA256 of the JSON
    without it, as its last member (still one plain JSON object for anyone reading the stream)."""
    body = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()
    mac = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    return body[:-1] + _MAC_HEAD + mac + b'"}'


def _unseal(payload: bytes, key: bytes) -> bytes | None:
    """The signed JSON of a datagram if its HMAC is right, checked before anything parses it (a forger costs
    the receiver one HMAC)."""
    if not (_MAC_TAIL + 2 <= len(payload) <= MAX_PAYLOAD) or payload[-_MAC_TAIL:-_MAC_HEX - 2] != _MAC_HEAD \
            or payload[-2:] != b'"}':
        return None
    body = payload[:-_MAC_TAIL] + b"}"
    want = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    return body if hmac.compare_digest(want, payload[-_MAC_HEX - 2:-2]) else None


def _no_constant(name: str):
    raise InputError(f"{name} in JSON")


def open_datagram(payload: bytes, key: bytes) -> Verdict:
    """A received datagram: its checked message, or why it is dropped. Never raises."""
    body = _unseal(payload, key)
    if body is None:
        return Verdict(None, "unsigned", "no valid HMAC")
    try:
        return Verdict(check_message(json.loads(body, parse_constant=_no_constant)))
    except (InputError, ValueError, RecursionError) as e:  # outside the schema, or not JSON (or too deep)
        return Verdict(None, "malformed", str(e)[:200])


# -------------------------------------------------------------------------------------- the schema

def _bad(why: str):
    raise InputError(why)


def _num(lo: float = -1e12, hi: float = 1e12, null: bool = False):
    def check(v, name):
        if v is None and null:
            return
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not lo <= v <= hi:
            _bad(f"{name}: not a number in [{lo:g}, {hi:g}]")
    return check


def _int(lo: int = 0, hi: int = MAX_INDEX, null: bool = False):
    def check(v, name):
        if v is None and null:
            return
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            _bad(f"{name}: not an integer in [{lo}, {hi}]")
    return check


def _text(n: int = MAX_TEXT, null: bool = True, choices: tuple | None = None):
    def check(v, name):
        if v is None and null:
            return
        if not isinstance(v, str) or len(v) > n or (choices and v not in choices):
            _bad(f"{name}: not {'one of ' + str(choices) if choices else 'a short text'}")
    return check


def _bool_or_null(v, name):
    if v is not None and not isinstance(v, bool):
        _bad(f"{name}: not true/false/null")


def _mapping(value_check):
    def check(v, name):
        if not isinstance(v, dict) or len(v) > MAX_CHANNELS:
            _bad(f"{name}: not an object of ≤ {MAX_CHANNELS} members")
        for k, x in v.items():
            _text(null=False)(k, name)
            value_check(x, f"{name}.{k}")
    return check


def _channels(v, name):
    if not isinstance(v, list) or len(v) > MAX_CHANNELS:
        _bad(f"{name}: not a list of ≤ {MAX_CHANNELS} channels")
    for c in v:
        if not isinstance(c, dict) or set(c) - {"name", "role", "unit"} or "name" not in c:
            _bad(f"{name}: a channel is not {{name, role, unit}}")
        _text(null=False)(c["name"], name)
        _text()(c.get("role"), name)
        _text()(c.get("unit"), name)


def _thresholds(v, name):
    if v is None:
        return
    if not isinstance(v, list) or len(v) > MAX_CHANNELS:
        _bad(f"{name}: not a list of ≤ {MAX_CHANNELS}")
    for x in v:
        _num(0.0, 1e12, null=True)(x, name)


def _detections(v, name):
    if not isinstance(v, list) or len(v) > MAX_DETECTIONS:
        _bad(f"{name}: not a list of ≤ {MAX_DETECTIONS}")
    for d in v:
        if not isinstance(d, list) or len(d) != 4:
            _bad(f"{name}: a detection is not [channel, kind, sample, confirmed_at]")
        _int(0, MAX_CHANNELS - 1)(d[0], name)
        _text(choices=("onset", "offset"), null=False)(d[1], name)
        _int()(d[2], name)
        _int()(d[3], name)


def samples(v, name: str, n_channels: int | None = None, min_n: int = 1) -> np.ndarray:
    """A ``data`` / ``env`` member as a finite float64 (channels, n) array within the datagram's bounds."""
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_CHANNELS or not all(isinstance(r, list) for r in v):
        _bad(f"{name}: not a list of 1–{MAX_CHANNELS} rows")
    n = len(v[0])
    if any(len(r) != n for r in v) or not min_n <= n or n * len(v) > MAX_VALUES:
        _bad(f"{name}: rows ragged, empty or longer than a datagram holds")
    a = np.asarray(v) if n else np.zeros((len(v), 0))
    if a.dtype.kind not in "iuf" or a.ndim != 2:
        _bad(f"{name}: not numbers")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or (a.size and np.abs(a).max() > 1e12):
        _bad(f"{name}: not finite")
    if n_channels is not None and a.shape[0] != n_channels:
        _bad(f"{name}: {a.shape[0]} rows for {n_channels} channels")
    return a


_COMMON = {"v": _int(PROTOCOL_VERSION, PROTOCOL_VERSION), "type": _text(null=False),
           "session": _text(MAX_SESSION, null=False)}
_FS = _num(FS_MIN_HZ, FS_MAX_HZ)
# type → ({required field: check}, {optional field: check}); "data" and "env" are checked by samples().
_SCHEMA = {
    "status": ({"state": _text(choices=STATES, null=False)},
               {"subject": _text(), "task": _text(), "fs_hz": _num(FS_MIN_HZ, FS_MAX_HZ, null=True),
                "channels": _channels}),
    "block": ({"stream": _text(choices=("emg",), null=False), "fs_hz": _FS, "start": _int(),
               "channels": _channels, "t_ns": _int(0, 2 ** 63), "data": None}, {}),
    "event": ({"onset_s": _num(), "duration_s": _num(0.0), "label": _text(null=False)}, {}),
    "rep": ({"rep": _int(), "onset_index": _mapping(_int()), "confirmed_index": _int(),
             "block_end_index": _int(), "t_ns": _int(0, 2 ** 63)},
            {"onset_s": _mapping(_num()), "onset_latency_ms": _num(null=True), "glutes_first": _bool_or_null}),
    "step": ({"end": _int(), "env_start": _int(), "env": None, "t_ns": _int(0, 2 ** 63)},
             {"gauge": _num(null=True), "gauge_unit": _text(), "thresholds": _thresholds, "baseline": _text(),
              "mains_hz": _num(0.0, FS_MAX_HZ, null=True), "mvc_reference": _mapping(_num(0.0)),
              "samples_lost": _int(), "display_dropped": _int(), "detections": _detections}),
}


def check_message(msg) -> dict:
    """``msg`` if it is a message of this protocol (a known type, only its fields, each of its type and within
    bounds), with ``data`` / ``env`` replaced by float64 arrays; else :class:`reengage.errors.InputError`."""
    if not isinstance(msg, dict):
        _bad("not a JSON object")
    for k, check in _COMMON.items():
        if k not in msg:
            _bad(f"no {k}")
        check(msg[k], k)
    if msg["type"] not in _SCHEMA:
        _bad(f"unknown type {msg['type']!r}")
    required, optional = _SCHEMA[msg["type"]]
    extra = set(msg) - set(_COMMON) - set(required) - set(optional)
    if extra:
        _bad(f"unknown fields {sorted(extra)[:3]}")
    for k, check in required.items():
        if k not in msg:
            _bad(f"{msg['type']} without {k}")
        if check:
            check(msg[k], k)
    for k, check in optional.items():
        if k in msg:
            check(msg[k], k)
    if msg["type"] == "block":
        if not msg["channels"]:
            _bad("block without channels")
        msg["data"] = samples(msg["data"], "data", len(msg["channels"]))
    elif msg["type"] == "step":
        msg["env"] = samples(msg["env"], "env", min_n=0)
    return msg
