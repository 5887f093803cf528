# ruff: noqa: F811 -- the browser and page fixtures are imported, and named again as the tests' arguments
"""The dashboard's matrix in a real browser (Debian's chromium driven by Playwright) against a real server started as
`make run` starts it, with TICKETRUSH_POSTGRES_URL and TICKETRUSH_REDIS_URL set: one run per store x cure, every
cell the API's figures for its run. (A server without them shows those stores' rows with the reason:
test_dashboard.py.)

The browser, the closed network and the page come from the dashboard's tests (test_dashboard.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from live_server import Server, own_children, when
from playwright.sync_api import Page, expect
from test_dashboard import CHROMIUM, browser, fill_small_rush, open_context, page  # noqa: F401 -- fixtures

from tests.servers import drop_runs_under

# 37 runs one after another, each spawning its run process: about two minutes here, more on a loaded machine (so
# the test is `slow`: .ci/run runs it, `make test` does not)
MATRIX_TIMEOUT_MS = 540_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, postgres_url: str, redis_url: str) -> Iterator[Server]:
    """The module's server, as `make run` starts it with both servers' URLs set; what its runs left on them is
    dropped at the end, should a test fail before it deleted them."""
    project = tmp_path_factory.mktemp("project")
    running = Server.like_make_run(
        project, {"TICKETRUSH_POSTGRES_URL": postgres_url, "TICKETRUSH_REDIS_URL": redis_url}
    )
    try:
        yield running
        running.stop()
        assert own_children() == []
    finally:
        drop_runs_under(project, {"postgres": postgres_url, "redis": redis_url})


def matrix_cells(page: Page) -> list[dict[str, Any]]:
    """Every cell of the matrix that holds a run: its row's store, its column's cure, the run and what it shows."""
    cells: list[dict[str, Any]] = page.locator("#matrix-grid td[data-id]").evaluate_all(
        """cells => cells.map(td => ({
             store: td.closest('tr').dataset.store, cure: td.dataset.cure, id: td.dataset.id,
             oversold: Number(td.dataset.oversold), rate: Number(td.dataset.salesPerSecond),
             text: td.innerText.replace(/\\s+/g, ' ').trim(), href: td.querySelector('a').getAttribute('href')}))"""
    )
    return cells


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_dashboard_matrix_runs_every_cure_of_every_store_and_shows_each_runs_oversold(
    server: Server, page: Page, tmp_path: Path
) -> None:
    stores = server.client.get("/cures").json()["stores"]
    assert [s["name"] for s in stores] == ["file", "memory", "sqlite", "postgres", "redis"]
    assert all(s["usable"] for s in stores)
    page.goto(server.url)
    fill_small_rush(page)
    page.get_by_label("Buyers", exact=True).fill("5")
    page.get_by_label("min think time").fill("0")
    page.get_by_label("max think time").fill("0")
    page.get_by_label("min hold time").fill("300")  # a window wide enough for the buyers to read before one writes
    page.get_by_label("max hold time").fill("300")
    expect(page.locator("#matrix-grid tbody tr")).to_have_count(len(stores))
    expect(page.locator("#matrix-grid tr.unusable")).to_have_count(0)
    page.get_by_role("button", name="Run the matrix").click()

    wanted = [(s["name"], c["name"]) for s in stores for c in s["cures"]]
    note = page.locator("#matrix-note")
    expect(note).to_contain_text(
        f"The matrix: {len(wanted)} runs, one after another with seed", timeout=MATRIX_TIMEOUT_MS
    )
    cells = sorted(matrix_cells(page), key=lambda c: wanted.index((c["store"], c["cure"])))
    assert [(c["store"], c["cure"]) for c in cells] == wanted  # a cell for every cure of every store, no other
    simulations = [server.get(c["id"]) for c in cells]
    for before, after in pairwise(simulations):  # posted once the one before had ended, store by store
        assert when(after["created_at"]) >= when(before["finished_at"]), (before["config"], after["config"])
    assert len({s["config"]["seed"] for s in simulations}) == 1, "every run has the same seed"
    expect(note).to_contain_text(f"seed {simulations[0]['config']['seed']}")

    cures = {(s["name"], c["name"]): c for s in stores for c in s["cures"]}
    for cell, simulation in zip(cells, simulations, strict=True):
        config, result = simulation["config"], simulation["result"]
        cure = cures[(cell["store"], cell["cure"])]
        assert simulation["status"] == "completed", simulation
        assert (config["store"], config["strategy"], config["lock"]) == (cell["store"], cure["strategy"], cure["lock"])
        assert (config["buyers"], config["tickets"]) == (5, 1)
        assert cell["oversold"] == result["oversold"], cell
        assert cell["rate"] == result["sales_per_second"], cell
        mark = f"\u2715 {result['oversold']} oversold" if result["oversold"] else "\u2713 none oversold"
        assert cell["text"].startswith(f"{mark} "), cell
        assert cell["text"].endswith(" sales/s"), cell
        assert cell["href"] == f"/?id={simulation['id']}"
    oversold = {(c["store"], c["cure"]): c["oversold"] for c in cells}
    for store in stores:  # the lesson on every store: without a lock, buyers oversold
        assert oversold[(store["name"], "read-write/none")] >= 1, oversold
    for (_, cure_name), seats in oversold.items():  # every cure that takes the store's word for it holds
        if cure_name in ("atomic", "for-update", "serializable", "optimistic", "seller", "read-write/process"):
            assert seats == 0, oversold
    every = {name for _, name in wanted}
    expect(page.locator("#matrix-grid tr[data-store='memory'] td.absent")).to_have_count(
        len(every) - sum(1 for s, _ in wanted if s == "memory")
    )
    page.screenshot(path=tmp_path / "matrix.png", full_page=True)

    for simulation in simulations:
        assert server.client.delete(f"/simulations/{simulation['id']}").status_code == 204
