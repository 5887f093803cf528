# ruff: noqa: F811 -- the browser and page fixtures are imported, and named again as the tests' arguments
"""The experiment page in a real browser (Debian's chromium driven by Playwright) against a real server started as
`make run` starts it: the charts draw the API's numbers, and a chart downloads as a PNG.

The browser, the closed network and the page come from the dashboard's tests (test_dashboard.py).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, wait_for
from playwright.sync_api import Page, expect
from test_dashboard import CHROMIUM, browser, open_context, page  # noqa: F401 -- fixtures

RUN_TIMEOUT_MS = 120_000
# Three buyers released together: with no window between read and write few oversell, with 1,000 ms all do,
# however late a busy machine runs one of them (a run yields the CPU to everything else).
EXPERIMENT = {
    "config": {"buyers": 3, "tickets": 1, "think_ms": 0},
    "trials": 3,
    "vary": {"field": "hold_ms", "values": [1000, 0]},
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium"
    ),
]


def chart(page: Page, name: str) -> dict[str, Any]:
    """What uPlot holds for a chart, and the colour of its canvas where each median point should be."""
    drawn: dict[str, Any] = page.locator(f'[data-chart="{name}"] .chart').evaluate(
        """element => {
            const u = element.uplot;
            const pixels = u.data[0].map((x, i) => {
                const y = u.data[2] ? u.data[2][i] : u.data[1][i];
                if (y === null) return null;
                const [px, py] = [u.valToPos(x, "x", true), u.valToPos(y, "y", true)];
                return Array.from(u.ctx.getImageData(Math.round(px), Math.round(py), 1, 1).data);
            });
            const stroke = getComputedStyle(document.documentElement).getPropertyValue("--alarm").trim();
            return {data: u.data, pixels, stroke, canvas: [u.ctx.canvas.width, u.ctx.canvas.height],
                    ratio: u.ctx.canvas.width / u.width};
        }"""
    )
    return drawn


def spread_data(points: list[dict[str, Any]], figure: str) -> list[list[Any]]:
    ordered = sorted(points, key=lambda p: p["value"])
    return [[p["value"] for p in ordered]] + [[p[figure][part] for p in ordered] for part in ("max", "median", "min")]


def rgb(hex_colour: str) -> list[int]:
    return [int(hex_colour.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4)]


def test_experiment_page_draws_the_api_numbers_and_exports_a_png(server: Server, page: Page, tmp_path: Path) -> None:
    created = server.client.post("/experiments", json=EXPERIMENT)
    assert created.status_code == 202, created.text
    experiment_id = created.json()["id"]

    page.goto(f"{server.url}/experiments/{experiment_id}/view")

    expect(page.locator("#experiment")).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    experiment = server.client.get(f"/experiments/{experiment_id}").json()
    points = experiment["points"]
    assert [p["value"] for p in points] == [1000.0, 0.0]
    assert points[0]["oversold"] == {"min": 2, "median": 2, "max": 2}
    expect(page.locator("#experiment-progress-text")).to_have_text("6 of 6 trials finished")

    oversold = chart(page, "oversold")
    assert oversold["data"] == spread_data(points, "oversold")  # sorted by value: 0 first, as the axis runs
    for pixel in oversold["pixels"]:  # every median point is painted, in the line's colour
        assert pixel is not None and pixel[3] == 255
        assert all(abs(a - b) <= 8 for a, b in zip(pixel[:3], rgb(oversold["stroke"]), strict=True)), pixel
    assert chart(page, "sales_per_second")["data"] == spread_data(points, "sales_per_second")

    page.get_by_label("Value", exact=True).select_option(label="hold_ms 1000")
    histogram = chart(page, "histogram")
    assert histogram["data"] == [[2], [3]]  # all three trials oversold two tickets
    page.get_by_label("Value", exact=True).select_option(label="hold_ms 0")
    bars = points[1]["oversold_histogram"]
    wait_for(
        lambda: chart(page, "histogram")["data"] == [[b["oversold"] for b in bars], [b["trials"] for b in bars]],
        10,
        "the histogram of hold_ms 0",
    )

    rows = page.locator("#figures tbody tr")
    expect(rows).to_have_count(2)
    cells = rows.nth(1).locator("th, td").all_inner_texts()
    assert cells[:5] == ["1000", "3 of 3", "2", "2", "2"]

    with page.expect_download() as download:
        page.locator('[data-export="oversold"]').click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == f"ticketrush-experiment-{experiment_id}-oversold.png"
    png = saved.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    canvas_width, canvas_height = oversold["canvas"]
    assert width == canvas_width + round(2 * 14 * oversold["ratio"])
    assert height > canvas_height  # the chart, with its title above and its legend below
    page.screenshot(path=tmp_path / "experiment.png", full_page=True)


def test_experiment_page_for_an_unknown_id_says_so(server: Server, page: Page) -> None:
    page.goto(f"{server.url}/experiments/{'0' * 32}/view")

    expect(page.locator("#experiment-error")).to_have_text(f"no experiment has the id '{'0' * 32}'")
    expect(page.locator("#experiment")).to_have_attribute("data-status", "error")
