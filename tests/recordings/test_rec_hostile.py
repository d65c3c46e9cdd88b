"""Hostile ``.rgr`` files: CRC-valid chunks with crafted contents (issue 13).

Every file is opened in a subprocess with its address space and CPU time limited (``resource.setrlimit``), so a
reader that allocates from an untrusted length fails the test with a MemoryError instead of taking the machine
down, and a quadratic resync fails it by running out of CPU. In that subprocess each file goes through
``load_recording`` (only ``ReengageError`` may come out) and through ``reengage info`` and ``info --json`` (exit 0
with output, or exit 2 with one line on stderr; never a traceback).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import traceback
import zlib

import pytest

MAGIC = b"\x89RGREC\r\n\x1a\n\x00\x01\x00\x00\x00\x00"
LIMIT_AS = 1536 * 1024 * 1024  # the interpreter with numpy, pandas and typer uses ~400 MB of address space
LIMIT_CPU_S = 120  # all the files of one batch; the suite needs a few seconds
FUZZ_CASES = 300
FUZZ_SEED = 13


def chunk(tag: bytes, payload: bytes) -> bytes:
    head = struct.pack("<4sI", tag, len(payload))
    return head + payload + struct.pack("<I", zlib.crc32(payload, zlib.crc32(head)))


def js(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def data(first: int, n: int, *, sid=0, code=0, nch=2, value=0) -> bytes:
    samples = struct.pack(f"<{nch * n}h", *([value] * (nch * n)))
    return chunk(b"DATA", struct.pack("<BBBBQI", sid, code, nch, 0, first, n) + samples)


def header(**change) -> dict:
    h = {
        "format": "reengage-recording", "format_version": 1, "software": "reengage test",
        "created_utc": "2026-01-01T00:00:00Z",
        "meta": {"subject": "P001", "task": "bridge", "phase": 1, "pain": 3},
        "streams": {
            "emg": {"fs_hz": 1000.0, "dtype": "<i2", "channels": [
                {"name": "a", "role": "glute_max", "unit": "mV", "kind": "raw", "scale": 0.01, "offset": 0.0},
                {"name": "b", "role": None, "unit": "mV", "kind": "raw", "scale": 0.01, "offset": 0.0}]},
            "imu": {"fs_hz": 100.0, "dtype": "<i2", "channels": [{"name": "acc_x", "unit": "g", "kind": "imu"}]},
        },
    }
    h.update(change)
    return h


EVENT = {"onset_s": 0.1, "duration_s": 0.5, "label": "rest"}
GAP = {"stream": "emg", "onset_s": 0.3, "duration_s": 0.1, "samples_lost": 100, "reason": "counter jump"}
STAT = {"decoder": {"dropped": 0}, "clock": {"fs_hz": 1000.1, "rate_error_ppm": 100.0, "jitter_ms_median": 0.1,
                                              "jitter_ms_p99": 0.9}, "samples_lost": 100, "disconnects": 0}


def recording(head=None, *, events=(EVENT,), gaps=(GAP,), meta=({"time_origin": {"stream": "emg", "sample": 0}},),
              stat=STAT, body=None, end=True) -> bytes:
    """A small recording; any part replaced by raw payload bytes or another JSON value."""
    def pay(v):
        return v if isinstance(v, bytes) else js(v)
    out = MAGIC + chunk(b"HEAD", pay(header() if head is None else head))
    out += b"".join(chunk(b"META", pay(m)) for m in meta)
    out += data(0, 300) + data(400, 600) if body is None else body
    out += b"".join(chunk(b"EVNT", pay(e)) for e in events) + b"".join(chunk(b"GAP_", pay(g)) for g in gaps)
    if stat is not None:
        out += chunk(b"STAT", pay(stat))
    return out + (chunk(b"END_", js({"samples": {"emg": 900}})) if end else b"")


def deep(n: int) -> bytes:
    return b"[" * n + b"]" * n


def _worker(paths: list[str]) -> None:
    """Runs in the limited subprocess: one JSON result per file on stdout."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))
    resource.setrlimit(resource.RLIMIT_CPU, (LIMIT_CPU_S, LIMIT_CPU_S))
    from reengage import cli
    from reengage.errors import ReengageError
    from reengage.io import load_recording

    results = []
    for p in paths:
        r: dict = {"path": p}
        try:
            rec = load_recording(p)
            r["load"] = {"integrity": rec.integrity, "problems": rec.problems}
        except ReengageError as e:
            r["load"] = {"error": str(e)}
        except BaseException:  # noqa: BLE001 - what the test is looking for
            r["load"] = {"traceback": traceback.format_exc()}
        for argv in (["info", p], ["info", "--json", p]):
            out, err = io.StringIO(), io.StringIO()
            sys.argv = ["reengage", *argv]
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    cli.main()
                    code = 0
                except SystemExit as e:
                    code = e.code
                except BaseException:  # noqa: BLE001
                    code = "traceback: " + traceback.format_exc()
            r[" ".join(argv[:-1])] = {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}
        results.append(r)
    sys.__stdout__.write(json.dumps(results))


def open_all(tmp_path, blobs: dict[str, bytes]) -> dict[str, dict]:
    """Write the files, open them all in one limited subprocess; check the invariants; the results by name."""
    paths = {}
    for name, blob in blobs.items():
        paths[name] = tmp_path / f"{name}.rgr"
        paths[name].write_bytes(blob)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, __file__, *map(str, paths.values())], capture_output=True, text=True,
                          env=env, timeout=600)
    assert proc.returncode == 0, f"worker died ({proc.returncode}): {proc.stderr[-3000:]}"
    results = dict(zip(paths, json.loads(proc.stdout)))
    for name, r in results.items():
        assert "traceback" not in r["load"], f"{name}: {r['load']['traceback']}"
        for cmd in ("info", "info --json"):
            c = r[cmd]
            assert c["code"] in (0, 2), f"{name}: reengage {cmd}: {c['code']}"
            if c["code"] == 2:
                assert c["stderr"].startswith("reengage: error: ") and c["stderr"].count("\n") == 1, (name, c)
            elif cmd == "info --json":
                json.loads(c["stdout"])
    return results


CRAFTED = {
    "head_not_json": recording(b"{not json"),
    "head_list": recording([1, 2, 3]),
    "head_string": recording("streams"),
    "head_bad_utf8": recording(b'{"streams": "\xff\xfe"}'),
    "no_streams": recording(header(streams=None)),
    "streams_empty": recording(header(streams={})),
    "streams_list": recording(header(streams=[{"fs_hz": 1000}])),
    "no_emg": recording(header(streams={"imu": header()["streams"]["imu"]})),
    "fs_zero": recording(header(streams={"emg": {**header()["streams"]["emg"], "fs_hz": 0}})),
    "fs_text": recording(header(streams={"emg": {**header()["streams"]["emg"], "fs_hz": "abc"}})),
    "fs_null": recording(header(streams={"emg": {**header()["streams"]["emg"], "fs_hz": None}})),
    "fs_huge": recording(header(streams={"emg": {**header()["streams"]["emg"], "fs_hz": 2e7}})),
    "fs_nan": recording(js(header()).replace(b'"fs_hz":1000.0', b'"fs_hz":NaN')),
    "dtype_bogus": recording(header(streams={"emg": {**header()["streams"]["emg"], "dtype": "<U8"}})),
    "dtype_object": recording(header(streams={"emg": {**header()["streams"]["emg"], "dtype": "O"}})),
    "channels_none": recording(header(streams={"emg": {**header()["streams"]["emg"], "channels": None}})),
    "channel_no_name": recording(header(streams={"emg": {**header()["streams"]["emg"], "channels": [{}, {}]}})),
    "channel_scale_text": recording(header(streams={"emg": {**header()["streams"]["emg"], "channels": [
        {"name": "a", "scale": "x"}, {"name": "b"}]}})),
    "head_deep": recording(header(meta={"notes": json.loads(deep(50))})),
    "head_very_deep": recording(js(header())[:-1] + b',"x":' + deep(200_000) + b"}"),
    "meta_subject_list": recording(header(meta={"subject": ["P1"], "pain": "high", "phase": "x"})),
    "event_missing": recording(events=({"label": "rest"},)),
    "event_text_onset": recording(events=({**EVENT, "onset_s": "abc"},)),
    "event_label_number": recording(events=({**EVENT, "label": 5},)),
    "event_list": recording(events=([EVENT],)),
    "event_nan": recording(events=(js(EVENT).replace(b"0.1", b"NaN"),)),
    "event_huge": recording(events=({**EVENT, "onset_s": 1e308},)),
    "event_very_deep": recording(events=(deep(100_000),)),
    "gap_missing": recording(gaps=({"stream": "emg"},)),
    "gap_lost_text": recording(gaps=({**GAP, "samples_lost": "100"},)),
    "gap_stream_number": recording(gaps=({**GAP, "stream": 5},)),
    "gap_lost_negative": recording(gaps=({**GAP, "samples_lost": -1},)),
    "meta_list": recording(meta=([1],)),
    "origin_text": recording(meta=({"time_origin": {"sample": "0"}},)),
    "origin_bool": recording(meta=({"time_origin": True},)),
    "stat_list": recording(stat=[1]),
    "stat_clock_text": recording(stat={**STAT, "clock": {**STAT["clock"], "fs_hz": "fast"}}),
    "stat_decoder_list": recording(stat={**STAT, "decoder": [1]}),
}
HEAD_CASES = {k for k in CRAFTED if k.startswith(("head_", "no_", "streams_", "fs_", "dtype_", "channel"))}


def test_crafted_chunk_contents_never_crash(tmp_path):
    results = open_all(tmp_path, CRAFTED)
    for name, r in results.items():
        if name in HEAD_CASES:  # the one unrecoverable case: one line, the byte offset of the header
            assert "byte 16: header chunk" in r["load"]["error"], (name, r["load"])
            assert r["info"]["code"] == 2, name
        else:  # the bad chunk (or field) is skipped and named by its byte offset; the rest is read
            assert r["load"]["integrity"] == "damaged", (name, r["load"])
            assert any("byte " in p and "damaged" in p for p in r["load"]["problems"]), name
            assert r["info"]["code"] == 0, (name, r["info"])


def test_untrusted_indices_never_size_an_allocation(tmp_path):
    hdr = MAGIC + chunk(b"HEAD", js(header()))
    far_data = hdr + data(0, 10) + data(2**31, 10)  # the file: two DATA chunks asking for 8 GiB
    far_origin = hdr + chunk(b"META", js({"time_origin": {"sample": 0}})) + data(2**40, 10)
    imu_far = hdr + data(0, 10) + data(0, 10, sid=1, nch=1) + data(2**45, 10, sid=1, nch=1)
    top_index = hdr + data(0, 10) + data(2**64 - 5, 4)
    real_gap = hdr + data(0, 1000) + data(600_000, 1000)  # a 10-minute unplug in a 10 kB file: still read
    results = open_all(tmp_path, {"far_data": far_data, "far_origin": far_origin, "imu_far": imu_far,
                                  "top_index": top_index, "real_gap": real_gap})
    second = len(hdr) + 16 + 12 + 40  # the offset of the second DATA chunk
    assert results["far_data"]["load"]["error"].endswith(
        f"byte {second}: DATA first sample index 2147483648 puts 2147483658 samples (596.5 h) in stream emg, "
        f"more than a {len(far_data)}-byte file can hold (a corrupt sample counter)"), results["far_data"]
    assert f"byte {len(hdr)}: META time_origin.sample 0 puts" in results["far_origin"]["load"]["error"]
    assert "in stream imu" in results["imu_far"]["load"]["error"]
    assert results["top_index"]["load"]["integrity"] == "damaged"  # an index numpy cannot hold: skipped
    assert results["real_gap"]["load"]["integrity"] == "recovered"


def tag_soup(size: int) -> dict[str, bytes]:
    """~``size`` bytes of tag-like garbage after a good header: the resync's worst cases."""
    hdr = MAGIC + chunk(b"HEAD", js(header()))
    end = data(0, 10) + chunk(b"END_", js({"samples": {"emg": 10}}))
    n = size // 8
    fits = b"".join(b"EVNT" + struct.pack("<I", size - 8 * i - 8) + b"{" for i in range(size // 9))  # CRC each
    return {
        "tags": hdr + b"DATA" * (size // 4) + end,
        "all_tags": hdr + b"HEADDATAEVNTGAP_METASTATEND_" * (size // 28) + end,
        "zero_lengths": hdr + (b"DATA" + b"\0\0\0\0") * n + end,
        "lengths_that_fit": hdr + fits[:size] + end,
    }


def test_resync_is_linear(tmp_path):
    """Operation count, not time: the bytes the scanner searches and checksums stay within a few times the file
    size whatever the damage holds (before: every resync searched the rest of the file for every tag, ~n²/8
    bytes on these files, over 30 s for the first one). The same files also open in the CPU-limited subprocess."""
    from reengage.io.recfile import _scan, _Scanner

    files = tag_soup(1 << 20)
    for name, blob in files.items():
        mv = memoryview(blob)
        sc = _Scanner(mv)
        chunks, problems, _ = _scan(mv, tmp_path / name, sc)
        # Bound: each tag searched over the file once by the scan and once by the look-ahead (14 n), CRCs of
        # failed candidates capped at 4 n, of intact chunks n. A quadratic resync does ~n²/8 here.
        assert sc.work <= 19 * len(blob), (name, sc.work, len(blob))
        assert [c[0] for c in chunks][-2:] == [b"DATA", b"END_"] or "abandoned" in " ".join(problems), name
    results = open_all(tmp_path, files)
    assert all(r["load"]["integrity"] == "damaged" for r in results.values())


def _leaf_value(rnd: random.Random):
    return rnd.choice([None, True, False, 0, -1, 1, 2**31, 2**64, -(2**63), 10**400, 0.0, -0.0, 1e-300, 1e308,
                       -1e308, 3.5, "", "abc", "<i2", "emg", "x" * 1000, [], {}, [1, "a"], {"a": None},
                       json.loads(deep(12))])


def _mutate(rnd: random.Random, value, depth=0):
    """A copy of ``value`` with one leaf, key or container changed."""
    if isinstance(value, dict) and value and rnd.random() < 0.8:
        key = rnd.choice(list(value))
        out = dict(value)
        what = rnd.random()
        if what < 0.15:
            del out[key]
        elif what < 0.25:
            out[key + "_"] = out.pop(key)
        else:
            out[key] = _mutate(rnd, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and rnd.random() < 0.8:
        out = list(value)
        i = rnd.randrange(len(out))
        if rnd.random() < 0.2:
            out.pop(i)
        else:
            out[i] = _mutate(rnd, out[i], depth + 1)
        return out
    return _leaf_value(rnd)


def _fuzz_file(rnd: random.Random) -> bytes:
    kind = rnd.choice(["head", "head", "event", "gap", "meta", "stat", "data", "bytes", "json_bytes"])
    if kind == "head":
        return recording(_mutate(rnd, header()))
    if kind in ("event", "gap", "meta", "stat"):
        base = {"event": EVENT, "gap": GAP, "meta": {"time_origin": {"stream": "emg", "sample": 0}},
                "stat": STAT}[kind]
        bad = _mutate(rnd, base)
        return recording(**{"event": {"events": (bad,)}, "gap": {"gaps": (bad,)}, "meta": {"meta": (bad,)},
                            "stat": {"stat": bad}}[kind])
    if kind == "data":
        first = rnd.choice([0, 1, 2**20, 2**31, 2**40, 2**63 - 1, 2**64 - 1])
        body = data(0, 100) + data(first, rnd.choice([0, 1, 7]), sid=rnd.choice([0, 1, 2, 255]),
                                   code=rnd.choice([0, 1, 2, 3, 4, 255]), nch=rnd.choice([0, 1, 2, 255]))
        return recording(body=body)
    if kind == "bytes":  # random payload bytes under a valid frame, in any chunk
        tag = rnd.choice([b"HEAD", b"EVNT", b"GAP_", b"META", b"STAT", b"END_", b"DATA"])
        blob = recording()
        return blob[:rnd.randrange(len(MAGIC), len(blob))] + chunk(tag, rnd.randbytes(rnd.randrange(64)))
    text = bytearray(js(_mutate(rnd, rnd.choice([header(), EVENT, GAP, STAT]))))  # JSON with bytes flipped
    for _ in range(rnd.randrange(1, 4)):
        text[rnd.randrange(len(text))] = rnd.choice(b'{}[]",:0-eE.\\nN \xff')
    return recording(bytes(text)) if rnd.random() < 0.5 else recording(events=(bytes(text),))


def test_fuzzed_chunk_contents_never_crash(tmp_path):
    """Schema-aware fuzzing: valid framing and CRCs around mutated values, types, sizes and random bytes.
    Seeded, so a failure names a file that reproduces it."""
    rnd = random.Random(FUZZ_SEED)
    results = open_all(tmp_path, {f"fuzz{i:03d}": _fuzz_file(rnd) for i in range(FUZZ_CASES)})
    assert len(results) == FUZZ_CASES


if __name__ == "__main__":
    _worker(sys.argv[1:])
