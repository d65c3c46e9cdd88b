"""What a ``.rgr`` chunk's JSON may hold: explicit checks of type, range and depth for HEAD, EVNT, GAP_, META,
STAT and END_ payloads.

Why: a chunk whose CRC checks out is only proof that the bytes are the ones the writer wrote, not that a
reengage recorder wrote them; a crafted or foreign file must never reach the rest of the program as a
``float("abc")`` or a nesting deep enough to exhaust the stack. Every check raises a :class:`~reengage.errors.RecordingFormatError`
naming the field at fault; the reader turns it into a problem (the chunk is skipped) or, for the header, a
:class:`~reengage.errors.RecordingFormatError`.
"""

from __future__ import annotations

import json
import math

from reengage.errors import RecordingFormatError

MAX_DEPTH = 16  # the writer nests 4 deep (STAT.decoder.dropped_by_reason); room for later additions
MAX_STREAMS = 16
MAX_CHANNELS = 255  # the DATA chunk's channel count is one byte
MAX_FS_HZ = 1_000_000.0  # no sEMG or IMU front end samples faster; a rate above is a corrupt value
DTYPES = ("<i2", "<f4", "<f8", "<i4")
MAX_INDEX = 2**63  # sample indices and counts: what the DATA chunk's u64 can say, and numpy can index
MAX_TIME_S = 1e7  # 115 days: event and gap times beyond it are corrupt, and would overflow sample arithmetic
TEXT_META = ("subject", "task", "session_date", "started_utc", "notes",
             "created_utc", "software")


def _bad(msg: str) -> RecordingFormatError:
    """A chunk payload that breaks the schema; the message names the field (the reader adds file and offset)."""
    return RecordingFormatError(msg)


def _no_constant(name: str):
    raise _bad(f"{name} is not a JSON number")


def load(payload: bytes) -> object:
    """Parse a chunk's JSON: strict UTF-8, no NaN/Infinity, at most ``MAX_DEPTH`` levels."""
    if _depth_exceeds(payload):
        raise _bad(f"JSON nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constant)
    except RecordingFormatError:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _bad(f"not valid JSON ({str(e).splitlines()[0][:80]})") from None


def _depth_exceeds(payload: bytes) -> bool:
    """Bracket depth counted outside strings, before parsing: json's recursion never sees a deep payload."""
    if payload.count(b"[") + payload.count(b"{") <= MAX_DEPTH:
        return False
    depth = 0
    in_str = esc = False
    for b in payload:
        if in_str:
            if esc:
                esc = False
            elif b == 0x5C:  # backslash
                esc = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif b in (0x5D, 0x7D):
            depth -= 1
    return False


def obj(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(f"{what} is {_kind(value)}, not an object")
    return value


def number(d: dict, key: str, what: str, *, lo: float = -math.inf, hi: float = math.inf,
           lo_open: bool = False, default: object = ...) -> float:
    if key not in d and default is not ...:
        return default  # type: ignore[return-value]
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _bad(f"{what}.{key} is {_kind(v)}, not a number")
    f = float(v) if abs(v) < 1e308 else math.inf  # an int too large for a float is out of any range
    if not math.isfinite(f) or f < lo or f > hi or (lo_open and f == lo):
        raise _bad(f"{what}.{key} = {str(v)[:20]} is out of range")
    return v  # as written: an integer stays one, so the JSON that reports it is unchanged


def integer(d: dict, key: str, what: str, *, lo: int = 0, hi: int = MAX_INDEX) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f"{what}.{key} is {_kind(v)}, not an integer")
    if not lo <= v <= hi:
        raise _bad(f"{what}.{key} = {str(v)[:20]} is outside [{lo}, {hi}]")
    return v


def text(d: dict, key: str, what: str, *, optional: bool = False, default: str | None = None) -> str | None:
    v = d.get(key, default)
    if v is None and optional:
        return None
    if not isinstance(v, str):
        raise _bad(f"{what}.{key} is {_kind(v)}, not text")
    return v


def _kind(v: object) -> str:
    if v is None:
        return "missing or null"
    name = {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "a list", dict: "an object"}
    return name.get(type(v), type(v).__name__)


def header(value: object) -> dict:
    """The HEAD chunk: an object with ``streams`` (at least ``emg``), each stream's rate, dtype and channels."""
    head = obj(value, "header")
    streams = obj(head.get("streams"), "header.streams")
    if not streams:
        raise _bad("header.streams is empty")
    if len(streams) > MAX_STREAMS:
        raise _bad(f"header.streams has {len(streams)} streams (at most {MAX_STREAMS})")
    if "emg" not in streams:
        raise _bad("header.streams has no emg stream")
    for name, spec in streams.items():
        _stream(name, spec)
    if "meta" in head:
        obj(head["meta"], "header.meta")
    for key in ("software", "created_utc"):
        text(head, key, "header", optional=True)
    return head


def _stream(name: str, spec: object) -> None:
    what = f"header.streams.{name}"
    spec = obj(spec, what)
    number(spec, "fs_hz", what, lo=0.0, hi=MAX_FS_HZ, lo_open=True)
    if spec.get("dtype") not in DTYPES:
        raise _bad(f"{what}.dtype = {str(spec.get('dtype'))[:20]!r} is not one of {', '.join(DTYPES)}")
    chans = spec.get("channels")
    if not isinstance(chans, list) or not 1 <= len(chans) <= MAX_CHANNELS:
        raise _bad(f"{what}.channels is not a list of 1 to {MAX_CHANNELS} channels")
    for i, c in enumerate(chans):
        cw = f"{what}.channels[{i}]"
        c = obj(c, cw)
        text(c, "name", cw)
        text(c, "role", cw, optional=True)
        text(c, "unit", cw, default="adc")
        text(c, "kind", cw, default="raw")
        number(c, "scale", cw, default=1.0)
        number(c, "offset", cw, default=0.0)


def meta(d: dict, what: str) -> tuple[dict, list[str]]:
    """A META chunk (or the header's ``meta``) without the fields whose type the rest of reengage cannot use,
    and what was dropped: one mistyped field loses that field, not the session's other metadata."""
    out = dict(d)
    dropped = []
    checks = [(k, lambda k=k: text(d, k, what, optional=True)) for k in TEXT_META if k in d]
    if d.get("pain") is not None:
        checks.append(("pain", lambda: number(d, "pain", what)))
    if d.get("phase") is not None:
        checks.append(("phase", lambda: integer(d, "phase", what, lo=-(2**31), hi=2**31)))
    if "time_origin" in d:
        checks.append(("time_origin", lambda: integer(obj(d["time_origin"], f"{what}.time_origin"), "sample",
                                                      f"{what}.time_origin")))
    for key, check in checks:
        try:
            check()
        except RecordingFormatError as e:
            dropped.append(str(e))
            del out[key]
    return out, dropped


def event(d: object) -> tuple[float, float, str]:
    d = obj(d, "event")
    return (float(number(d, "onset_s", "event", lo=-MAX_TIME_S, hi=MAX_TIME_S)),
            float(number(d, "duration_s", "event", lo=0.0, hi=MAX_TIME_S)), text(d, "label", "event") or "")


def gap(d: object, streams: dict) -> tuple[str, float, float, int, str]:
    d = obj(d, "gap")
    stream = text(d, "stream", "gap") or ""
    if stream not in streams and stream != "":
        raise _bad(f"gap.stream = {stream[:20]!r} is not a stream of the header")
    return (stream, number(d, "onset_s", "gap", lo=-MAX_TIME_S, hi=MAX_TIME_S),
            number(d, "duration_s", "gap", lo=0.0, hi=MAX_TIME_S),
            integer(d, "samples_lost", "gap"), text(d, "reason", "gap", default="") or "")


def stats(d: object) -> dict:
    """STAT: an object; its ``clock`` and ``decoder`` parts, which ``info`` formats as numbers, checked."""
    d = obj(d, "stats")
    clock = d.get("clock")
    if clock is not None:
        clock = obj(clock, "stats.clock")
        if "fs_hz" in clock:
            for key in ("fs_hz", "rate_error_ppm", "jitter_ms_median", "jitter_ms_p99"):
                number(clock, key, "stats.clock")
        if clock.get("sim_speed") is not None:
            number(clock, "sim_speed", "stats.clock")
    if d.get("decoder") is not None:
        obj(d["decoder"], "stats.decoder")
    return d
