"""Screenshot every dashboard page in headless Chromium: ``.venv/bin/python docs/screenshots/take_screenshots.py
[DATA_ROOT]`` (default: ``recordings/``, where ``make demo`` puts the demo). Writes PNGs next to this file;
the Live page is captured idle (how to start a session) and while the newest session is replayed into it."""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    from dash.testing.application_runners import ThreadedRunner
    from dash.testing.browser import Browser
    from selenium.webdriver.chrome.options import Options

    from reengage.catalog import Catalog
    from reengage.acquisition.live import replay_to_live
    from reengage.dashboard.app import create_app
    from reengage.io.recfile import read_recording

    root = Path(argv[0] if argv else "recordings").resolve()
    with Catalog(root) as cat:
        sessions = cat.sessions()
    if not sessions:
        sys.exit(f"{root}: no catalogued sessions; run `make demo` first")
    subject = sessions[0]["subject_id"]
    mine = [s for s in sessions if s["subject_id"] == subject]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(root, live_port=port)
    opts = Options()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1300,1100", "--hide-scrollbars"):
        opts.add_argument(flag)
    with ThreadedRunner() as server, Browser("chrome", headless=True, options=opts, percy_run=False,
                                             percy_finalize=False) as br:
        server(app)
        base = server.url

        def shot(path: str, wait_for: str, name: str, settle: float = 1.5) -> None:
            br.driver.get(base + path)
            br.wait_for_element(wait_for, timeout=20)
            time.sleep(settle)
            height = br.driver.execute_script("return document.body.scrollHeight")
            br.driver.set_window_size(1300, min(max(900, height + 40), 4000))
            time.sleep(0.5)
            br.driver.save_screenshot(str(HERE / f"{name}.png"))
            br.driver.set_window_size(1300, 1100)
            print(f"{name}.png", file=sys.stderr)

        shot("/", "#patients-table", "patients")
        shot(f"/patient/{subject}", ".patient-trend .js-plotly-plot", "patient")
        shot(f"/session/{mine[-1]['session_id']}", "#session-traces .js-plotly-plot", "session")
        shot(f"/report/{subject}", ".report-trend", "report")
        rec = read_recording(Catalog(root).recording_path(mine[-1]["recording_id"]))
        t = threading.Thread(target=replay_to_live, args=(rec,), kwargs={"port": port, "speed": 2.0})
        br.driver.get(base + "/live")
        br.wait_for_contains_text("#live-status", "reengage record", timeout=20)
        time.sleep(1.0)
        br.driver.save_screenshot(str(HERE / "live-idle.png"))  # before any stream: how to start one
        print("live-idle.png", file=sys.stderr)
        t.start()
        # The reps come after the MVC protocol (≈ 93 s of the session): at 2× the fourth cue is ≈ 70 s in.
        br.wait_for_contains_text("#live-latency", "over the last 4 reps", timeout=150)
        time.sleep(0.5)
        br.driver.save_screenshot(str(HERE / "live.png"))
        print("live.png:", br.find_element("#live-latency").text, file=sys.stderr)
        t.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
