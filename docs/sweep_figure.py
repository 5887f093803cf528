"""The README's sweep, made by the project's own code: `python docs/sweep_figure.py [--screenshot PATH]`.

Starts `ticketrush serve` on a free port with a data folder of its own, runs the experiment below through the API
(10 buyers, 1 ticket, no lock, the read-to-write window varied, 5 trials of each), prints its points as
`ticketrush sweep` prints them, then opens the experiment's page in Debian's chromium and saves the oversold
chart the page exports (its "Download PNG" button, values spaced evenly) as docs/sweep-oversold-by-hold-ms.png.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from app.cli import sweep_table
from bench.server import Server
from workers.experiments import Point

DOCS = Path(__file__).resolve().parent
FIGURE = DOCS / "sweep-oversold-by-hold-ms.png"
EXPERIMENT = {
    "config": {"buyers": 10, "tickets": 1, "lock": "none"},
    "trials": 5,
    "vary": {"field": "hold_ms", "values": [0, 1, 2, 5, 10, 20, 50, 100]},
}
TERMINAL = {"completed", "failed", "cancelled", "interrupted"}
TIMEOUT_S = 600.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--screenshot", type=Path, help="also save a screenshot of the whole page there")
    args = parser.parse_args()
    with Server() as server:
        created = httpx.post(f"{server.base_url}/experiments", json=EXPERIMENT, timeout=30)
        created.raise_for_status()
        location = f"{server.base_url}{created.headers['Location']}"
        deadline = time.monotonic() + TIMEOUT_S
        while (experiment := httpx.get(location, timeout=30).json())["status"] not in TERMINAL:
            if time.monotonic() > deadline:
                raise SystemExit(f"the experiment did not finish within {TIMEOUT_S:g} s")
            time.sleep(0.5)
        points = [Point.model_validate(p) for p in experiment["points"]]
        print(f"{experiment['status']}: {EXPERIMENT}, seed {experiment['config']['seed']}")
        print(sweep_table(experiment["vary"]["field"], points))
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 860, "height": 900}, device_scale_factor=1.5)
                page.goto(f"{location}/view")
                page.wait_for_selector('#experiment[data-status="completed"]', timeout=30_000)
                page.check("#evenly")  # 0, 1, 2 and 5 ms apart from each other
                with page.expect_download() as download:
                    page.click('[data-export="oversold"]')
                download.value.save_as(FIGURE)
                if args.screenshot:
                    page.screenshot(path=args.screenshot, full_page=True)
            finally:
                browser.close()
    print(f"(chart saved as {FIGURE.relative_to(DOCS.parent)}, {FIGURE.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
