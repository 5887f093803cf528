"""The dashboard and the API docs in a real browser (Debian's chromium driven by Playwright) against a real server
started as `make run` starts it.

One server and one browser serve the whole module; every test opens its own page and saves screenshots into
its tmp_path. The network is closed: every request a page makes goes through `closed_network`, which lets only
those to the server on 127.0.0.1 through; a test fails if the page tried any other, or threw an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from live_server import Server, wait_for, when
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Route,
    ViewportSize,
    expect,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RUN_TIMEOUT_MS = 90_000  # a run waits for a free slot first (max_running 2); spawning is slow on a loaded machine
WIDE: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 740}
VERDICT_MARK = {"safe": "\u2713", "incomplete": "\u26a0", "unsafe": "\u2715"}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}: apt-get install chromium"
    ),
]


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    """Started after the module's server, so it is closed before the server's no-process-left check."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def closed_network(context: BrowserContext) -> list[str]:
    """Abort every request that would leave 127.0.0.1; the list fills with their URLs."""
    outside: list[str] = []

    def guard(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", guard)
    return outside


class Guarded:
    """A browser context on the closed network ("nothing fetched from outside"), noting the errors its pages
    throw; `close` fails the test on either."""

    def __init__(self, browser: Browser, viewport: ViewportSize, locale: str = "en-US") -> None:
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=viewport, locale=locale)
        self.outside = closed_network(self.context)

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        return page

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"the page fetched from outside 127.0.0.1: {self.outside}"
        assert not self.errors, f"the page threw: {self.errors}"


@pytest.fixture
def open_context(browser: Browser) -> Iterator[Callable[..., Guarded]]:
    """`open_context(viewport, locale="en-US")`: a guarded context (a browser whose language is `locale`), closed
    and checked at the end of the test."""
    opened: list[Guarded] = []

    def open_one(viewport: ViewportSize, locale: str = "en-US") -> Guarded:
        opened.append(Guarded(browser, viewport, locale))
        return opened[-1]

    yield open_one
    for guarded in opened:
        guarded.close()


@pytest.fixture
def page(open_context: Callable[..., Guarded]) -> Page:
    return open_context(WIDE).new_page()


def fill_small_rush(page: Page, lock: str = "none") -> None:
    page.get_by_label("Buyers", exact=True).fill("10")
    page.get_by_label("Tickets", exact=True).fill("1")
    page.get_by_label("Lock", exact=True).select_option(lock)
    page.get_by_label("min think time").fill("20")
    page.get_by_label("max think time").fill("20")
    page.get_by_label("min hold time").fill("20")
    page.get_by_label("max hold time").fill("60")


def shown(card: Locator, field: str) -> str:
    return str(card.locator(f'dd[data-field="{field}"]').inner_text()).strip()


def test_dashboard_run_shows_the_api_figures_and_one_row_per_buyer(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    fill_small_rush(page, "none")
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("article.card")
    expect(card).to_have_count(1)
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    simulation_id = card.get_attribute("data-id")
    assert simulation_id
    expect(page).to_have_url(f"{server.url}/?id={simulation_id}")

    simulation = server.get(simulation_id)
    result = simulation["result"]
    assert result["oversold"] >= 1
    assert shown(card, "oversold") == str(result["oversold"])
    assert shown(card, "tickets_handed_out") == str(result["tickets_handed_out"])
    assert shown(card, "lost_updates") == str(result["lost_updates"])
    assert shown(card, "seed") == str(simulation["config"]["seed"])
    expect(card.locator(".figure.alarm", has_text="Oversold")).to_be_visible()
    expect(card.locator(".explanation")).to_have_text(result["explanation"])

    rows = card.locator("svg .row")
    expect(rows).to_have_count(10)
    rows.nth(0).hover()
    expect(card.locator(".record h5")).to_contain_text(f"Buyer {rows.nth(0).get_attribute('data-buyer')}: ")
    rows.nth(0).focus()
    page.keyboard.press("ArrowDown")
    expect(rows.nth(1)).to_be_focused()
    expect(card.locator(".record h5")).to_contain_text(f"Buyer {rows.nth(1).get_attribute('data-buyer')}:")
    page.screenshot(path=tmp_path / "run-wide.png", full_page=True)

    history = page.locator("#history tbody tr", has=page.locator(f'a[href="/?id={simulation_id}"]'))
    expect(history).to_have_count(1)


def cures_of(server: Server, store: str) -> dict[str, Any]:
    stores = {s["name"]: s for s in server.client.get("/cures").json()["stores"]}
    return stores[store]


def buyer_records(server: Server, simulation_id: str) -> list[dict[str, Any]]:
    response = server.client.get(f"/simulations/{simulation_id}/buyers", params={"limit": 1000})
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()["data"]
    return records


def span_ms(records: list[dict[str, Any]]) -> float:
    """A run's span as the timeline draws it: from its first timestamp to its last."""
    times = [r[key] for r in records for key in r if key.startswith("t_") and r[key] is not None]
    return (max(times) - min(times)) / 1e6


def test_dashboard_picking_a_store_offers_only_what_it_takes(server: Server, page: Page) -> None:
    stores = server.client.get("/cures").json()["stores"]
    page.goto(server.url)
    store_select = page.get_by_label("Store", exact=True)
    strategy_select = page.get_by_label("Strategy", exact=True)
    lock_select = page.get_by_label("Lock", exact=True)
    options = "select => [...select.options].map(o => o.value)"
    expect(page.get_by_role("button", name="Run", exact=True)).to_be_enabled()  # the form has what GET /cures lists

    assert store_select.evaluate(options) == [s["name"] for s in stores]
    for store in stores:
        store_select.select_option(store["name"])
        assert strategy_select.evaluate(options) == [s["name"] for s in store["strategies"]], store["name"]
        for strategy in store["strategies"]:
            strategy_select.select_option(strategy["name"])
            takes_lock = strategy["locks"] != ["none"]
            if takes_lock:
                expect(lock_select).to_be_visible()
                assert lock_select.evaluate(options) == strategy["locks"]
            else:
                expect(lock_select).to_be_hidden()
            expect(page.get_by_label("Max retries")).to_be_visible(visible=strategy["name"] == "optimistic")
            if "semaphore" in strategy["locks"]:
                lock_select.select_option("semaphore")
                expect(page.get_by_label("Permits")).to_be_visible()
                lock_select.select_option("process")
            expect(page.get_by_label("Permits")).to_be_hidden()
    store_select.select_option("memory")
    assert "optimistic" not in strategy_select.evaluate(options)


def test_dashboard_a_combination_the_page_never_offers_is_refused_with_the_apis_message(
    server: Server, page: Page
) -> None:
    count = server.client.get("/simulations").json()["count"]
    page.goto(server.url)
    page.get_by_label("Store", exact=True).select_option("memory")
    page.get_by_label("Strategy", exact=True).evaluate(
        "select => { select.add(new Option('optimistic', 'optimistic')); select.value = 'optimistic'; }"
    )
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text(
        "strategy: strategy 'optimistic' does not run on store 'memory', which takes strategy 'read-write' or "
        "'seller'; strategy 'optimistic' runs on store 'file', 'sqlite', 'postgres' or 'redis'"
    )
    assert server.client.get("/simulations").json()["count"] == count


def test_dashboard_in_chinese_shows_the_apis_refusal_in_chinese(server: Server, page: Page) -> None:
    count = server.client.get("/simulations").json()["count"]
    page.goto(f"{server.url}/?lang=zh")
    page.locator("#store").select_option("memory")
    page.locator("#strategy").evaluate(
        "select => { select.add(new Option('optimistic', 'optimistic')); select.value = 'optimistic'; }"
    )
    page.get_by_role("button", name="开始", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text(
        "strategy:策略 'optimistic' 不能在存储 'memory' 上运行,这个存储能用的策略是 'read-write' 或 'seller';"
        "策略 'optimistic' 能在存储 'file'、'sqlite'、'postgres' 或 'redis' 上运行"
    )
    assert server.client.get("/simulations").json()["count"] == count


@pytest.mark.parametrize(
    ("strategy", "lock", "field", "typed", "handed_out", "gave_up"),
    [("read-write", "semaphore", "Permits", "2", 2, 0), ("optimistic", None, "Max retries", "0", 1, 9)],
    ids=["semaphore of 2 permits", "optimistic with no retry"],
)
def test_dashboard_permits_and_max_retries_reach_the_run(
    server: Server, page: Page, strategy: str, lock: str | None, field: str, typed: str, handed_out: int, gave_up: int
) -> None:
    page.goto(server.url)
    fill_small_rush(page)
    page.get_by_label("min hold time").fill("150")  # every buyer reads before any writes
    page.get_by_label("max hold time").fill("150")
    page.get_by_label("Strategy", exact=True).select_option(strategy)
    if lock:
        page.get_by_label("Lock", exact=True).select_option(lock)
    page.get_by_label(field).fill(typed)
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    simulation = server.get(str(card.get_attribute("data-id")))
    config, result = simulation["config"], simulation["result"]
    assert config["permits" if lock else "max_retries"] == int(typed)
    assert (result["tickets_handed_out"], result["buyers_gave_up"]) == (handed_out, gave_up)
    assert shown(card, "tickets_handed_out") == str(handed_out)
    assert shown(card, "buyers").endswith(f"{gave_up} gave up, 0 failed")


def test_dashboard_compare_cures_runs_every_cure_one_after_another(server: Server, page: Page, tmp_path: Path) -> None:
    cures = cures_of(server, "file")["cures"]
    page.goto(server.url)
    fill_small_rush(page)
    page.get_by_role("button", name="Compare cures").click()

    cards = page.locator("article.card")
    expect(cards).to_have_count(len(cures), timeout=RUN_TIMEOUT_MS * len(cures))
    for i in range(len(cures)):
        expect(cards.nth(i)).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#comparison-note")).to_contain_text("6 cures of the file store, run one after another")
    assert [cards.nth(i).get_attribute("data-cure") for i in range(len(cures))] == [c["name"] for c in cures]
    ids = [str(cards.nth(i).get_attribute("data-id")) for i in range(len(cures))]
    expect(page).to_have_url(f"{server.url}/?" + "&".join(f"id={i}" for i in ids))

    simulations = [server.get(i) for i in ids]
    for before, after in pairwise(simulations):  # posted once the one before had ended
        assert when(after["created_at"]) >= when(before["finished_at"]), (before["config"], after["config"])
        assert when(after["started_at"]) > when(before["finished_at"])
    assert len({s["config"]["seed"] for s in simulations}) == 1, "every cure runs with the same seed"

    spans = []
    for i, (cure, simulation) in enumerate(zip(cures, simulations, strict=True)):
        card, config, result = cards.nth(i), simulation["config"], simulation["result"]
        assert (config["store"], config["strategy"], config["lock"]) == ("file", cure["strategy"], cure["lock"])
        expect(card.locator(".card-title .cure")).to_have_text(cure["name"])
        expect(card.locator(".card-title .store")).to_have_text("on the file store")
        for field in ("oversold", "tickets_handed_out", "lost_updates", "tickets_sold"):
            assert shown(card, field) == str(result[field]), (cure["name"], field)
        assert shown(card, "purchase") == f"{result['purchase_p50_ms']} / {result['purchase_p95_ms']} ms"
        expect(card.locator(".verdict")).to_have_text(f"{VERDICT_MARK[result['verdict_kind']]} {result['verdict']}")
        records = buyer_records(server, simulation["id"])
        expect(card.locator("svg .row")).to_have_count(10)
        spans.append(span_ms(records))

        if cure["strategy"] == "optimistic":
            assert result["retries"] >= 1  # every buyer read before the first write: the others were refused
            assert shown(card, "retries") == str(result["retries"])
            retried = {str(r["buyer"]): r["retries"] for r in records if r["retries"]}
            marked = card.locator("svg .row:not([data-retries='0'])")
            expect(marked).to_have_count(len(retried))
            assert {
                row.get_attribute("data-buyer"): int(str(row.get_attribute("data-retries"))) for row in marked.all()
            } == retried
            assert sum(retried.values()) == result["retries"]
            expect(marked.locator(".retry-count")).to_have_count(len(retried))
            expect(card.locator(".legend li[data-kind='retried']")).to_be_visible()
        if cure["strategy"] == "seller":
            assert shown(card, "queue_wait") == f"{result['queue_wait_p50_ms']} / {result['queue_wait_p95_ms']} ms"
            assert shown(card, "seller_rounds") == str(result["seller_rounds"]) != "0"
            queued = [r for r in records if r["t_lock_requested"] is not None and r["t_lock_acquired"] is not None]
            expect(card.locator("svg.timeline-svg .bar.wait.queue:not(.gaveup)")).to_have_count(len(queued))
            expect(card.locator(".legend li[data-kind='queue']")).to_have_text(
                "Waiting in the seller's queue (hatched)"
            )
        else:
            expect(card.locator("svg.timeline-svg .bar.wait.queue")).to_have_count(0)

    axes = page.locator("svg.timeline-svg").evaluate_all("svgs => svgs.map(s => Number(s.dataset.axisMs))")
    assert len(axes) == len(cures) and len(set(axes)) == 1, f"every card's axis ends at the same value: {axes}"
    assert axes[0] == pytest.approx(max(spans), abs=1e-6), "the shared axis is the longest run's span"
    own = page.locator("svg.timeline-svg").evaluate_all("svgs => svgs.map(s => Number(s.dataset.spanMs))")
    assert own == pytest.approx(spans, abs=1e-6), "each card draws its run from the run's own start"
    ends = page.locator("svg.timeline-svg").evaluate_all(
        "svgs => svgs.map(s => [...s.querySelectorAll('text.axis-label')].map(t => t.textContent))"
    )
    assert all(labels == ends[0] for labels in ends), f"every axis is labelled alike: {ends}"
    page.screenshot(path=tmp_path / "compare-cures-wide.png", full_page=True)


def test_dashboard_compare_cures_draws_each_cures_sales_per_second_with_the_oversold_marked(
    server: Server, page: Page, tmp_path: Path
) -> None:
    cures = cures_of(server, "memory")["cures"]
    page.goto(server.url)
    page.get_by_label("Store", exact=True).select_option("memory")
    page.get_by_label("Buyers", exact=True).fill("3")
    page.get_by_label("Tickets", exact=True).fill("1")
    page.get_by_label("min think time").fill("0")
    page.get_by_label("max think time").fill("0")
    # Released together, three buyers all read before the first of them writes a 400 ms hold later.
    page.get_by_label("min hold time").fill("400")
    page.get_by_label("max hold time").fill("400")
    figure = page.locator("#cure-bars")
    expect(figure).to_be_hidden()
    page.get_by_role("button", name="Compare cures").click()

    bars = figure.locator("g.cure-bar")
    expect(bars).to_have_count(len(cures), timeout=RUN_TIMEOUT_MS * len(cures))
    expect(figure).to_be_visible()
    ids = [str(page.locator("article.card").nth(i).get_attribute("data-id")) for i in range(len(cures))]
    results = {sim_id: server.get(sim_id)["result"] for sim_id in ids}
    drawn = bars.evaluate_all(
        "gs => gs.map(g => [g.dataset.cure, g.dataset.id, Number(g.dataset.salesPerSecond),"
        " g.classList.contains('oversold'), g.querySelector('.oversold-mark')?.textContent ?? null,"
        " g.querySelector('rect').getBoundingClientRect().height])"
    )
    assert [d[0] for d in drawn] == [c["name"] for c in cures]
    assert [d[1] for d in drawn] == ids
    for _, sim_id, rate, marked, mark, _ in drawn:
        result = results[sim_id]
        assert rate == result["sales_per_second"]
        assert marked == (result["oversold"] > 0)
        assert mark == (f"\u2715 {result['oversold']} oversold" if result["oversold"] else None)
    assert results[ids[0]]["oversold"] >= 1, "without a lock the three buyers oversold"
    assert any(not marked for _, _, _, marked, _, _ in drawn), "a cure that works is drawn unmarked"
    heights = {d[1]: d[5] for d in drawn}  # bar heights in proportion to the API's figures
    tallest = max(ids, key=lambda i: results[i]["sales_per_second"])
    for sim_id in ids:
        expected = results[sim_id]["sales_per_second"] / results[tallest]["sales_per_second"]
        assert heights[sim_id] / heights[tallest] == pytest.approx(expected, abs=0.01)
    page.screenshot(path=tmp_path / "compare-cures-bars.png", full_page=True)


def test_dashboard_lists_the_experiments_each_a_link_to_its_charts(server: Server, page: Page) -> None:
    body = {
        "config": {"tickets": 1, "think_ms": 0, "hold_ms": 0},
        "trials": 1,
        "vary": {"field": "buyers", "values": [2, 3]},
    }
    created = server.client.post("/experiments", json=body)
    assert created.status_code == 202, created.text
    experiment_id = created.json()["id"]
    listed = server.client.get("/experiments").json()

    page.goto(server.url)

    items = page.locator("#experiments li")
    expect(items).to_have_count(len(listed["data"]))
    assert items.evaluate_all("lis => lis.map(li => li.dataset.id)") == [e["id"] for e in listed["data"]]
    item = page.locator(f'#experiments li[data-id="{experiment_id}"]')
    link = item.get_by_role("link", name="buyers = 2, 3")
    expect(link).to_have_attribute("href", f"/experiments/{experiment_id}/view")
    expect(item).to_contain_text("1 trial per value")
    expect(page.locator("#experiments-note")).to_have_text(
        f"{listed['count']} of {listed['count']} experiment shown."
        if listed["count"] == 1
        else f"The newest {len(listed['data'])} of {listed['count']} experiments shown."
    )

    link.click()
    expect(page).to_have_url(f"{server.url}/experiments/{experiment_id}/view")
    expect(page.locator("#experiment")).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    assert server.client.get(f"/experiments/{experiment_id}").json()["status"] == "completed"


def test_dashboard_opens_a_shared_link_in_a_new_page(
    server: Server, open_context: Callable[..., Guarded], tmp_path: Path
) -> None:
    simulation_id = server.post({"buyers": 10, "tickets": 1, "lock": "file", "think_ms": 20, "hold_ms": [20, 60]})["id"]

    page = open_context(PHONE).new_page()
    page.goto(f"{server.url}/?id={simulation_id}")
    card = page.locator(f'article.card[data-id="{simulation_id}"]')
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    simulation = server.get(simulation_id)
    assert shown(card, "oversold") == str(simulation["result"]["oversold"]) == "0"
    assert shown(card, "seed") == str(simulation["config"]["seed"])
    expect(card.locator("svg .row")).to_have_count(10)
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
    assert max(widths[:2]) <= widths[2] == PHONE["width"], f"horizontal overflow at 375 px: {widths}"
    page.screenshot(path=tmp_path / "shared-link-375.png", full_page=True)


def open_finished(server: Server, page: Page, config: dict[str, object]) -> tuple[Locator, dict[str, Any]]:
    """Start `config` through the API, open its link, and return its card once done and the API's simulation."""
    simulation_id = server.post(config)["id"]
    page.goto(f"{server.url}/?id={simulation_id}")
    card = page.locator(f'article.card[data-id="{simulation_id}"]')
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    return card, server.get(simulation_id)


def test_dashboard_draws_the_lock_wait_histogram_the_api_returns(server: Server, page: Page, tmp_path: Path) -> None:
    card, simulation = open_finished(
        server,
        page,
        {"buyers": 2000, "tickets": 200, "lock": "process", "executor": "pool", "think_ms": 0, "hold_ms": 0.5},
    )
    result = simulation["result"]
    buckets = result["lock_wait_histogram"]
    assert len(buckets) == 20 and sum(b["buyers"] for b in buckets) == 2000
    bars = card.locator(".hist-bucket")
    expect(bars).to_have_count(20)
    drawn = bars.evaluate_all(
        "bars => bars.map(b => [b.dataset.fromMs, b.dataset.toMs, b.dataset.buyers, b.dataset.gaveUp].map(Number))"
    )
    assert drawn == [[b["from_ms"], b["to_ms"], b["buyers"], b["gave_up"]] for b in buckets]
    waits = [float(w.replace(",", "")) for w in shown(card, "lock_wait").removesuffix(" ms").split(" / ")]
    assert waits == [result["lock_wait_p50_ms"], result["lock_wait_p95_ms"], result["lock_wait_max_ms"]]
    assert buckets[-1]["to_ms"] == result["lock_wait_max_ms"] > 0
    expect(card.locator(".timeline-note")).to_contain_text("this shows how long 2,000 buyers waited for the lock")
    assert shown(card, "buyers").startswith("2,000: ")  # numbers are written 1,000,000
    expect(card.locator(".verdict")).to_have_text(f"\u2713 {result['verdict']}")
    page.screenshot(path=tmp_path / "histogram.png", full_page=True)


def test_dashboard_shows_for_updates_waits_for_the_stores_write_lock(
    server: Server, page: Page, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE: nine of ten buyers wait for SQLite's write lock while the first holds it 100 ms."""
    card, simulation = open_finished(
        server,
        page,
        {"buyers": 10, "tickets": 1, "store": "sqlite", "strategy": "for-update", "think_ms": 0, "hold_ms": 100},
    )
    result = simulation["result"]
    assert result["lock_wait_max_ms"] >= 100 and sum(b["buyers"] for b in result["lock_wait_histogram"]) == 10
    waits = [float(w.replace(",", "")) for w in shown(card, "lock_wait").removesuffix(" ms").split(" / ")]
    assert waits == [result["lock_wait_p50_ms"], result["lock_wait_p95_ms"], result["lock_wait_max_ms"]]
    expect(card.locator(".legend li[data-kind='wait']")).to_contain_text("Waiting for the SQLite write lock")
    expect(card.locator(".timeline-chart .bar.wait")).not_to_have_count(0)
    expect(card.locator(".explanation")).to_contain_text("Waiting for the SQLite write lock took")
    page.screenshot(path=tmp_path / "for-update-waits.png", full_page=True)


def test_dashboard_without_a_lock_shows_no_waits_anywhere(server: Server, page: Page, tmp_path: Path) -> None:
    card, simulation = open_finished(
        server,
        page,
        {"buyers": 1000, "tickets": 100, "lock": "none", "executor": "pool", "think_ms": 0, "hold_ms": 0.2},
    )
    result = simulation["result"]
    assert result["lock_wait_histogram"] == [] and result["lock_wait_max_ms"] == 0
    assert shown(card, "lock_wait") == "0 / 0 / 0 ms"
    expect(card.locator(".timeline-note")).to_contain_text("Without a lock nobody waits for one")
    expect(card.locator(".timeline-chart rect")).to_have_count(0)
    expect(card.locator(".verdict")).to_have_text(f"{VERDICT_MARK[result['verdict_kind']]} {result['verdict']}")
    expect(card.locator(".verdict")).to_have_attribute("data-verdict", result["verdict_kind"])
    page.screenshot(path=tmp_path / "no-lock-histogram.png", full_page=True)


def test_dashboard_verdict_says_buyers_gave_up_waiting(server: Server, page: Page, tmp_path: Path) -> None:
    card, simulation = open_finished(
        server,
        page,
        {"buyers": 10, "tickets": 1, "lock": "process", "lock_timeout_s": 0.05, "think_ms": 0, "hold_ms": 1000},
    )
    result = simulation["result"]
    assert result["verdict"] == "No seat sold twice, but 9 of 10 buyers gave up waiting for the process lock"
    verdict = card.locator(".verdict")
    expect(verdict).to_have_text(f"\u26a0 {result['verdict']}")
    expect(verdict).to_have_attribute("data-verdict", "incomplete")
    assert shown(card, "buyers") == "10: 1 got one, 0 sold out, 9 gave up, 0 failed"
    expect(card.locator("svg .row.outcome-gave_up")).to_have_count(9)
    expect(card.locator("svg .row.outcome-gave_up .bar.gaveup")).to_have_count(9)
    page.screenshot(path=tmp_path / "gave-up.png", full_page=True)


DELAY = "a number of milliseconds from 0 to 60000, or a [min, max] range of them with min at most max"


@pytest.mark.parametrize(
    ("label", "typed", "message"),
    [
        ("Buyers", "0", "buyers: a whole number of buyers from 1 to 10,000,000 (got 0)"),
        ("Buyers", "", "buyers: a whole number of buyers from 1 to 10,000,000 (got null)"),
        ("Tickets", "", "tickets: a whole number of tickets from 0 to 1,000,000,000 (got null)"),
        ("max think time (ms)", "5", f"think_ms: {DELAY} (got [100, 5])"),
        (
            "Seed",
            "-5",
            "seed: a whole number from 0 to 9223372036854775807; without one, a random one is used (got -5)",
        ),
    ],
    ids=["buyers 0", "buyers empty", "tickets empty", "think range reversed", "negative seed"],
)
def test_dashboard_bad_input_is_refused_with_the_fields_message(
    server: Server, page: Page, label: str, typed: str, message: str
) -> None:
    count = server.client.get("/simulations").json()["count"]
    page.goto(server.url)
    page.get_by_label(label, exact=True).fill(typed)
    page.get_by_role("button", name="Run", exact=True).click()

    expect(page.get_by_role("alert")).to_have_text(message)
    expect(page.locator("article.card")).to_have_count(0)
    assert server.client.get("/simulations").json()["count"] == count


SHOWN_TIME = "async (iso) => (await import('/static/format.js')).formatWhen(iso)"  # how the page writes a time


def test_dashboard_history_started_column_shows_when_a_run_started(server: Server, page: Page) -> None:
    blockers = [server.post({"buyers": 1, "think_ms": 60_000, "hold_ms": 0})["id"] for _ in range(2)]  # 2 slots
    waiting = server.post({"buyers": 2, "tickets": 1, "think_ms": 0, "hold_ms": 0})["id"]
    skipped = server.post({"buyers": 2, "tickets": 1, "think_ms": 0, "hold_ms": 0})["id"]
    try:
        for blocker in blockers:
            server.wait_until(blocker, lambda s: s["status"] == "running", 60, "running")
        assert server.get(waiting)["status"] == "queued"
        assert server.client.post(f"/simulations/{skipped}/cancel").json()["status"] == "cancelled"
        page.goto(server.url)
        row = page.locator(f'#history tbody tr[data-id="{waiting}"]')
        expect(row.locator("td").first).to_have_text("not yet")
        expect(page.locator(f'#history tbody tr[data-id="{skipped}"] td').first).to_have_text("never")

        created = when(server.get(waiting)["created_at"])
        wait_for(lambda: datetime.now(UTC) - created > timedelta(seconds=1.1), 5, "a second to pass since creation")
        assert server.client.post(f"/simulations/{blockers[0]}/cancel").json()["status"] == "cancelled"
        done = server.wait_finished(waiting)
    finally:
        for blocker in blockers:
            server.client.post(f"/simulations/{blocker}/cancel")

    assert done["status"] == "completed"
    page.get_by_role("button", name="Refresh").click()
    started = page.evaluate(SHOWN_TIME, done["started_at"])
    assert started != page.evaluate(SHOWN_TIME, done["created_at"])  # over a second apart: they read differently
    expect(row.locator("td").first).to_have_text(started)


WATCH_PROGRESS = """() => {
  window.seenProgress = [];
  new MutationObserver(() => {
    const bar = document.querySelector("article.card progress");
    const text = document.querySelector("article.card .progress-text");
    if (bar && text) window.seenProgress.push([bar.value, bar.max, text.textContent]);
  }).observe(document.querySelector("#cards"), {subtree: true, attributes: true, childList: true, characterData: true});
}"""


def test_dashboard_shows_live_progress_while_buyers_take_turns(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    page.get_by_label("Buyers", exact=True).fill("40")
    page.get_by_label("Tickets", exact=True).fill("40")  # every buyer buys, so every one holds the lock
    page.get_by_label("Lock", exact=True).select_option("file")
    page.get_by_label("min think time").fill("0")
    page.get_by_label("max think time").fill("0")
    page.get_by_label("min hold time").fill("40")  # 40 buyers in turn: about 1.6 s to watch
    page.get_by_label("max hold time").fill("40")
    page.evaluate(WATCH_PROGRESS)
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    seen = page.evaluate("window.seenProgress")
    partway = [(value, text) for value, most, text in seen if 0 < value < most == 40]
    assert partway, f"no progress between 0 and 40 was shown: {seen}"
    assert any(text.startswith("Running: ") and text.endswith(" of 40 buyers finished") for _, text in partway)
    expect(card.locator("progress")).to_be_hidden()
    page.screenshot(path=tmp_path / "progress-done.png")


def fill_long_rush(page: Page, buyers: int = 5) -> None:
    """Buyers who think for a minute: a run that is still going when the test acts on it."""
    page.get_by_label("Buyers", exact=True).fill(str(buyers))
    page.get_by_label("Tickets", exact=True).fill("1")
    page.get_by_label("min think time").fill("60000")
    page.get_by_label("max think time").fill("60000")


def test_dashboard_cancel_button_stops_the_run(server: Server, page: Page) -> None:
    page.goto(server.url)
    fill_long_rush(page)
    page.get_by_role("button", name="Run", exact=True).click()
    card = page.locator("article.card")
    expect(card.get_by_role("status")).to_have_text("Running: 0 of 5 buyers finished", timeout=RUN_TIMEOUT_MS)
    simulation_id = str(card.get_attribute("data-id"))

    card.get_by_role("button", name="Cancel").click()

    expect(card.get_by_role("alert")).to_have_text("Cancelled: stopped before it finished, so there is no result.")
    expect(card.get_by_role("button", name="Cancel")).to_be_hidden()
    simulation = server.get(simulation_id)
    assert simulation["status"] == "cancelled" and simulation["result"] is None
    wait_for(lambda: server.descendants() == [], 10, "the cancelled run's processes to be gone")


@pytest.mark.parametrize(("buyers", "drawn"), [(300, "timeline"), (301, "histogram")])
def test_dashboard_draws_a_timeline_up_to_300_buyers_and_a_histogram_above(
    server: Server, page: Page, tmp_path: Path, buyers: int, drawn: str
) -> None:
    page.goto(server.url)
    page.get_by_label("Buyers", exact=True).fill(str(buyers))
    page.get_by_label("Tickets", exact=True).fill("10")
    page.get_by_label("Lock", exact=True).select_option("file")
    page.get_by_label("Executor", exact=True).select_option("pool")
    for field in ("min think time", "max think time", "min hold time", "max hold time"):
        page.get_by_label(field).fill("0")
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    timeline = card.get_by_role("group", name=re.compile(rf"^Timeline of {buyers} buyers over "))
    histogram = card.get_by_role("img", name=re.compile(r"^Histogram of \d+ lock waits"))
    if drawn == "timeline":
        expect(timeline).to_be_visible()
        expect(timeline.get_by_role("button", name=re.compile(r"^Buyer \d+ "))).to_have_count(buyers)
        expect(histogram).to_have_count(0)
    else:
        expect(histogram).to_be_visible()
        expect(card.get_by_role("heading", name="Lock waits")).to_be_visible()
        expect(timeline).to_have_count(0)
        expect(card.get_by_role("button", name=re.compile(r"^Buyer \d+ "))).to_have_count(0)
    page.screenshot(path=tmp_path / f"{drawn}-{buyers}.png", full_page=True)


def test_dashboard_history_pages_through_every_simulation(server: Server, page: Page) -> None:
    for _ in range(max(2, 17 - server.client.get("/simulations").json()["count"])):  # more than one page of 15
        created = server.post({"buyers": 1, "tickets": 1, "think_ms": 60_000, "hold_ms": 0})
        assert server.client.post(f"/simulations/{created['id']}/cancel").json()["status"] == "cancelled"
    everything = server.client.get("/simulations", params={"limit": 1000}).json()
    total = everything["count"]

    page.goto(server.url)
    history = page.get_by_role("table")
    listed = history.get_by_role("link")
    older = page.get_by_role("button", name="Show older")
    expect(page.get_by_text(f"15 of {total} shown, newest first.")).to_be_visible()
    expect(listed).to_have_count(15)
    for shown in range(30, total + 15, 15):  # one click a page, each waited for: the button goes with the last
        older.click()
        expect(listed).to_have_count(min(shown, total))
    expect(older).to_be_hidden()
    expect(page.get_by_text(f"{total} of {total} shown, newest first.")).to_be_visible()
    expect(listed).to_have_count(total)
    newest_first = [f"/?id={s['id']}" for s in everything["data"]]
    assert [listed.nth(i).get_attribute("href") for i in range(total)] == newest_first


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[Server]:
    """A server that wants a token for POST and DELETE, beside the module's (stopped and checked at the end)."""
    guarded = Server(tmp_path / "guarded", {"TICKETRUSH_API_TOKEN": "s3cret"})
    yield guarded
    guarded.stop()


def test_dashboard_token_field_lets_a_run_through_a_guarded_server(guarded_server: Server, page: Page) -> None:
    guarded = guarded_server
    page.goto(guarded.url)
    fill_small_rush(page, "file")

    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("Set the API token under More options.")
    assert guarded.client.get("/simulations").json()["count"] == 0

    page.get_by_text("More options", exact=True).click()
    page.get_by_label("API token").fill("s3cret")
    page.get_by_role("button", name="Run", exact=True).click()

    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_role("alert").first).to_be_hidden()
    (simulation,) = guarded.client.get("/simulations").json()["data"]
    assert simulation["status"] == "completed" and simulation["result"]["tickets_sold"] == 1
    assert shown(card, "oversold") == "0"


def test_dashboard_guard_refuses_and_notes_a_request_to_another_host(server: Server, browser: Browser) -> None:
    """The check every test above ends with is real: a request to any host but 127.0.0.1 (here localhost, so
    that nothing could leave the machine even if it got through) is refused and noted."""
    guarded = Guarded(browser, WIDE)
    try:
        page = guarded.new_page()
        page.goto(server.url)
        answer = page.evaluate("fetch('http://localhost:9/font.woff2').then(() => 'fetched', () => 'refused')")
        assert answer == "refused"
        assert guarded.outside == ["http://localhost:9/font.woff2"]
        guarded.outside.clear()
    finally:
        guarded.close()


def test_dashboard_api_docs_list_every_operation_with_the_network_closed(
    server: Server, page: Page, tmp_path: Path
) -> None:
    page.goto(f"{server.url}/docs")

    operations = page.locator(".opblock-summary")
    expect(operations.first).to_be_visible(timeout=30_000)
    shown = {
        (
            str(op.locator(".opblock-summary-method").inner_text()).strip(),
            op.locator("[data-path]").get_attribute("data-path"),
        )
        for op in operations.all()
    }
    paths = server.client.get("/openapi.json").json()["paths"]
    assert shown == {(method.upper(), path) for path, item in paths.items() for method in item}
    assert ("POST", "/simulations") in shown
    expect(page.get_by_role("heading", name="ticketrush")).to_be_visible()
    page.screenshot(path=tmp_path / "docs.png", full_page=True)


# --- step mode, replay, the timeline's story, languages, presets ----------------------------------------------


def replay_state(server: Server, simulation_id: str, steps: int | None = None) -> dict[str, Any]:
    params = {} if steps is None else {"steps": steps}
    response = server.client.get(f"/simulations/{simulation_id}/replay", params=params)
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def start_stepping(page: Page, buyers: int, lock: str) -> Locator:
    """Step mode from the form: `buyers` buyers for 1 ticket; the card once its buyers can step."""
    page.get_by_label("Buyers", exact=True).fill(str(buyers))
    page.get_by_label("Tickets", exact=True).fill("1")
    page.get_by_label("Lock", exact=True).select_option(lock)
    page.get_by_role("button", name="Step", exact=True).click()
    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "running", timeout=RUN_TIMEOUT_MS)
    expect(card.get_by_role("button", name="Buyer 1: search")).to_be_enabled()
    return card


def shown_state(box: Locator) -> tuple[int, str]:
    """The count and the lock's holders a step panel or the replay shows."""
    count = int(str(box.locator(".step-count").get_attribute("data-count")))
    return count, str(box.locator(".step-lock").get_attribute("data-holders"))


def test_dashboard_step_mode_steps_buyer_by_buyer_to_an_oversell(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    card = start_stepping(page, 2, "none")
    simulation_id = str(card.get_attribute("data-id"))
    stepping = card.locator(".stepping")
    assert server.get(simulation_id)["config"]["mode"] == "step"

    for n, buyer in enumerate([1, 2, 1, 2, 1, 2], 1):
        before = server.client.get(f"/simulations/{simulation_id}/step").json()
        step = next(b["next_step"] for b in before["buyers"] if b["buyer"] == buyer)
        card.get_by_role("button", name=f"Buyer {buyer}: {step}").click()
        if n == 6:
            break  # the last step: the run finishes and shows its result
        expect(stepping.locator(".step-note")).to_have_text(re.compile(rf"^Step {n}: buyer {buyer} "))
        state = server.client.get(f"/simulations/{simulation_id}/step").json()
        assert state["steps"][-1] == buyer and len(state["steps"]) == n
        if not state["finished"]:
            assert shown_state(stepping) == (state["count"], "")
            expect(stepping.locator(".step-count")).to_have_text(f"Count in the db: {state['count']}")
            expect(stepping.locator(".steps-chart .step-cell")).to_have_count(n)
            for b in state["buyers"]:
                label = f"Buyer {b['buyer']}: {b['next_step'] or 'got a ticket'}"
                expect(stepping.get_by_role("button", name=label)).to_be_visible()
        if n == 4:  # both have read count=1 and neither has written
            assert [(b["read"], b["next_step"]) for b in state["buyers"]] == [(1, "write"), (1, "write")]
            page.screenshot(path=tmp_path / "step-mode.png", full_page=True)
        if n == 5:
            assert state["count"] == 0

    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    result = server.get(simulation_id)["result"]
    assert (result["oversold"], result["schedule"]) == (1, [1, 2, 1, 2, 1, 2])
    assert shown(card, "oversold") == "1"
    expect(stepping).to_be_hidden()
    expect(card.locator(".replay")).to_be_visible()
    expect(card.locator("svg.timeline-svg .row")).to_have_count(2)


def test_dashboard_step_mode_shows_why_a_buyer_cannot_step(server: Server, page: Page) -> None:
    page.goto(server.url)
    card = start_stepping(page, 2, "process")
    simulation_id = str(card.get_attribute("data-id"))
    stepping = card.locator(".stepping")
    for n, name in enumerate(("Buyer 1: search", "Buyer 2: search", "Buyer 1: read"), 1):
        card.get_by_role("button", name=name).click()
        expect(stepping.locator(".steps-chart .step-cell")).to_have_count(n)

    state = server.client.get(f"/simulations/{simulation_id}/step").json()
    waiting = state["buyers"][1]
    assert state["lock_holders"] == [1] and not waiting["can_step"]
    reason = waiting["waits_for"]
    assert reason == "buyer 2 waits for the process lock held by buyer 1"
    blocked = card.get_by_role("button", name="Buyer 2: read")
    expect(blocked).to_be_disabled()
    expect(blocked).to_have_attribute("title", reason)
    expect(blocked).to_have_accessible_description(reason)
    expect(stepping.locator(".step-lock")).to_have_text("Who holds the process lock: buyer 1.")
    assert shown_state(stepping) == (1, "1")

    # the page never offers it; forced, the step is refused and the page says the API's reason
    blocked.evaluate("button => { button.disabled = false; button.click(); }")
    expect(stepping.get_by_role("alert")).to_have_text(reason)
    assert server.client.get(f"/simulations/{simulation_id}/step").json()["steps"] == [1, 2, 1]

    card.get_by_role("button", name="Run to the end").click()
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    result = server.get(simulation_id)["result"]
    assert result["safe"] and result["schedule"] == [1, 2, 1, 1, 2]
    expect(card.locator(".verdict")).to_have_text(f"\u2713 {result['verdict']}")


def test_dashboard_in_chinese_says_why_a_buyer_cannot_step_in_chinese(server: Server, page: Page) -> None:
    page.goto(f"{server.url}/?lang=zh")
    page.locator("#buyers").fill("2")
    page.locator("#tickets").fill("1")
    page.locator("#lock").select_option("process")
    page.locator("#step").click()
    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "running", timeout=RUN_TIMEOUT_MS)
    stepping = card.locator(".stepping")
    for n, name in enumerate(("路人1:查票", "路人2:查票", "路人1:读取"), 1):
        card.get_by_role("button", name=name).click()
        expect(stepping.locator(".steps-chart .step-cell")).to_have_count(n)

    reason = "路人2在等进程锁:路人1正拿着"
    blocked = card.get_by_role("button", name="路人2:读取")
    expect(blocked).to_have_attribute("title", reason)
    blocked.evaluate("button => { button.disabled = false; button.click(); }")
    expect(stepping.get_by_role("alert")).to_have_text(reason)  # the API's refusal, in the page's language
    card.get_by_role("button", name="跑到结束").click()
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)


STALE_RACE = {"buyers": 3, "tickets": 2, "lock": "none", "schedule": [1, 1, 3, 3, 1, 2, 2, 2, 3]}
"""Buyers 1 and 3 read 2; 1 writes 1; 2 reads 1 and writes 0; then 3 writes its stale 1 over the 0."""


def test_dashboard_replay_shows_the_apis_state_after_each_step_and_replays_exactly(
    server: Server, page: Page, tmp_path: Path
) -> None:
    card, simulation = open_finished(server, page, STALE_RACE)
    schedule = simulation["result"]["schedule"]
    assert schedule == STALE_RACE["schedule"]
    replay = card.locator(".replay")
    slider = replay.get_by_role("slider", name="Steps taken")
    expect(slider).to_have_attribute("max", str(len(schedule)))
    expect(replay.locator(".replay-position")).to_have_text("Before the first step (9 steps in all).")

    for k in range(len(schedule) + 1):
        if k:
            replay.get_by_role("button", name="Next step").click()
        expect(replay).to_have_attribute("data-at", str(k))
        state = replay_state(server, simulation["id"], k)
        assert shown_state(replay) == (state["count"], ",".join(map(str, state["lock_holders"])))
        items = replay.locator(".replay-buyers li")
        drawn = items.evaluate_all(
            "items => items.map(i => [Number(i.dataset.buyer), i.dataset.next, i.dataset.outcome])"
        )
        assert drawn == [[b["buyer"], b["next_step"] or "", b["outcome"] or ""] for b in state["buyers"]]
        cells = replay.locator(".steps-chart .step-cell")
        expect(cells).to_have_count(k)
        assert cells.evaluate_all(
            "cs => cs.map(c => [Number(c.dataset.buyer), c.dataset.step, Number(c.dataset.count)])"
        ) == [[s["buyer"], s["step"], s["count"]] for s in state["taken"]]
    expect(replay.locator(".replay-position")).to_have_text(
        "Step 9 of 9: buyer 3 writes: the count is now 1 (told it got a ticket)."
    )
    expect(replay.get_by_role("button", name="Next step")).to_be_disabled()
    slider.focus()
    page.keyboard.press("Home")
    expect(replay).to_have_attribute("data-at", "0")
    page.keyboard.press("ArrowRight")
    expect(replay).to_have_attribute("data-at", "1")
    page.screenshot(path=tmp_path / "replay.png", full_page=True)

    replay.get_by_role("button", name="Replay exactly").click()
    again = page.locator("article.card")
    expect(again).to_have_count(1)
    expect(again).not_to_have_attribute("data-id", simulation["id"])
    expect(again).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    replayed = server.get(str(again.get_attribute("data-id")))
    assert replayed["config"]["schedule"] == schedule and replayed["config"]["seed"] == simulation["config"]["seed"]
    same = ("schedule", "oversold", "lost_updates", "tickets_remaining", "tickets_handed_out", "explanation")
    assert {k: replayed["result"][k] for k in same} == {k: simulation["result"][k] for k in same}
    told = [(r["buyer"], r["outcome"], r["read"], r["wrote"]) for r in buyer_records(server, simulation["id"])]
    assert [(r["buyer"], r["outcome"], r["read"], r["wrote"]) for r in buyer_records(server, replayed["id"])] == told


def test_dashboard_timeline_tells_the_winner_from_the_oversold(server: Server, page: Page, tmp_path: Path) -> None:
    every_read_before_any_write = [*range(1, 11), *range(1, 11), *range(1, 11)]  # searches, reads, writes
    card, simulation = open_finished(
        server, page, {"buyers": 10, "tickets": 1, "lock": "none", "schedule": every_read_before_any_write}
    )
    result = simulation["result"]
    records = buyer_records(server, simulation["id"])
    assert result["oversold"] == 9, "every buyer read count=1 before the first write (the schedule)"
    (conflict,) = result["conflicts"]
    winner = conflict["first_writer"]
    assert winner == min(records, key=lambda r: r["t_write"])["buyer"]
    oversold = sorted(set(conflict["buyers"]) - {winner})
    assert len(oversold) == 9

    timeline = card.locator("svg.timeline-svg")
    sale = timeline.locator(".row.role-sale")
    stale = timeline.locator(".row.role-stale")
    expect(sale).to_have_count(1)
    expect(sale).to_have_attribute("data-buyer", str(winner))
    assert sorted(int(str(r.get_attribute("data-buyer"))) for r in stale.all()) == oversold
    expect(sale.locator(".bar.critical:not(.stale)")).to_have_count(1)
    expect(stale.locator(".bar.critical.stale")).to_have_count(9)
    expect(sale.locator(".row-mark")).to_have_text("\u2713")
    expect(stale.locator(".row-mark")).to_have_text(["\u26a0"] * 9)
    expect(sale).to_have_accessible_name(f"Buyer {winner} got a ticket: the first to write count=0")
    loser = oversold[0]
    expect(timeline.locator(f".row[data-buyer='{loser}']")).to_have_accessible_name(
        f"Buyer {loser} was told it got a ticket, but buyer {winner} had already written count=0: this sale is not "
        "in the count"
    )

    first = timeline.locator(".first-write")
    expect(first).to_have_attribute("data-buyer", str(winner))
    expect(first.locator("text")).to_have_text(f"first write (buyer {winner})")
    line = timeline.locator(".count-line")
    expect(line).to_have_attribute("data-start", "1")
    expect(line).to_have_attribute("data-final", str(result["tickets_remaining"]))
    expect(line).to_have_attribute("data-writes", "10")
    expect(line.locator(".count-end")).to_have_text(f"{result['tickets_remaining']} left")
    expect(line.locator(".count-write.stale")).to_have_count(9)
    expect(line.locator(".count-write.pushed-up")).to_have_count(0)
    expect(card.locator(".legend li[data-kind='stale']")).to_be_visible()
    page.screenshot(path=tmp_path / "timeline-story.png", full_page=True)


def test_dashboard_timeline_shows_a_stale_write_pushing_the_count_back_up(server: Server, page: Page) -> None:
    card, simulation = open_finished(server, page, STALE_RACE)
    result = simulation["result"]
    line = card.locator("svg.timeline-svg .count-line")
    writes = line.locator(".count-write").evaluate_all(
        "ws => ws.map(w => [Number(w.dataset.buyer), Number(w.dataset.count)])"
    )
    assert writes == [[1, 1], [2, 0], [3, 1]]  # the order of the schedule's writes
    expect(line).to_have_attribute("data-final", str(result["tickets_remaining"]))
    assert result["tickets_remaining"] == 1
    pushed = line.locator(".count-write.pushed-up")
    expect(pushed).to_have_count(1)
    expect(pushed).to_have_attribute("data-buyer", "3")
    row = card.locator("svg.timeline-svg .row[data-buyer='3']")
    expect(row).to_have_class(re.compile(r"\bpushed-up\b"))
    expect(row.locator(".pushed-up-mark")).to_have_count(1)
    expect(row).to_have_accessible_name(
        "Buyer 3 was told it got a ticket, but buyer 1 had already written count=1: this sale is not in the count; "
        "its write pushed the count back up from 0 to 1"
    )
    expect(card.locator(".legend li[data-kind='pushed-up']")).to_be_visible()


def zh(server: Server, simulation_id: str) -> dict[str, Any]:
    response = server.client.get(f"/simulations/{simulation_id}", headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_dashboard_language_switch_says_the_page_and_the_explanation_in_chinese(
    server: Server, page: Page, tmp_path: Path
) -> None:
    card, simulation = open_finished(server, page, {"buyers": 4, "tickets": 1, "think_ms": 0, "hold_ms": 100})
    expect(card.locator(".explanation")).to_have_text(simulation["result"]["explanation"])
    chinese = zh(server, simulation["id"])["result"]
    assert chinese["explanation"] != simulation["result"]["explanation"] and "路人" in chinese["explanation"]

    page.get_by_label("Language").select_option("zh")
    expect(page).to_have_url(f"{server.url}/?id={simulation['id']}&lang=zh")
    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(card.locator(".explanation")).to_have_text(chinese["explanation"])
    expect(card.locator(".verdict")).to_have_text(f"{VERDICT_MARK[chinese['verdict_kind']]} {chinese['verdict']}")
    expect(page.get_by_role("button", name="开始", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="单步", exact=True)).to_be_visible()
    expect(page.get_by_label("路人数", exact=True)).to_have_value("10")
    expect(card.locator(".figure[data-field='oversold'] dt")).to_have_text("超卖")
    expect(card.locator(".timeline-title")).to_have_text("时间线:4 个路人")
    expect(card.locator(".status-chip")).to_have_text("已完成")
    expect(page.get_by_role("link", name="这次运行的链接")).to_have_attribute(
        "href", f"/?id={simulation['id']}&lang=zh"
    )
    page.screenshot(path=tmp_path / "zh.png", full_page=True)

    page.get_by_label("语言").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("article.card .explanation")).to_have_text(simulation["result"]["explanation"])


def test_dashboard_speaks_the_browsers_language_by_default(
    server: Server, open_context: Callable[..., Guarded]
) -> None:
    simulation = server.wait_finished(server.post({"buyers": 2, "tickets": 1, "schedule": [1, 2, 1, 2, 1, 2]})["id"])
    page = open_context(WIDE, locale="zh-CN").new_page()
    asked: list[str | None] = []
    page.on("request", lambda r: asked.append(r.headers.get("accept-language")) if "/simulations/" in r.url else None)
    page.goto(f"{server.url}/?id={simulation['id']}")
    card = page.locator("article.card")
    expect(card.locator(".explanation")).to_have_text(zh(server, simulation["id"])["result"]["explanation"])
    expect(page.get_by_label("语言")).to_have_value("zh")
    expect(card.locator(".replay-position")).to_have_text("第一步之前(共 6 步)。")
    assert asked and all(a == "zh" for a in asked), asked


CATALOGUE_SHAPES = """async () => {
  const shape = (entry) => {
    const texts = typeof entry === "object" ? Object.values(entry) : [entry];
    return [typeof entry === "object" ? "plural" : "text",
            [...new Set(texts.flatMap((t) => [...t.matchAll(/\\{(\\w+)\\}/g)].map((m) => m[1])))].sort()];
  };
  const shapes = async (lang) => {
    const words = (await import(`/static/locales/${lang}.js`)).default;
    return Object.fromEntries(Object.entries(words).map(([k, v]) => [k, shape(v)]));
  };
  return [await shapes("en"), await shapes("zh")];
}"""


def test_dashboard_every_word_has_a_chinese_entry_with_the_same_holes(server: Server, page: Page) -> None:
    page.goto(server.url)
    en, zh_words = page.evaluate(CATALOGUE_SHAPES)
    missing = sorted(set(en) - set(zh_words))
    assert not missing, f"en.js entries that zh.js lacks: {missing}"
    extra = sorted(k for k in set(zh_words) - set(en) if not k.startswith("choice."))
    assert not extra, f"zh.js entries that en.js lacks: {extra}"
    holes = {k: (en[k][1], zh_words[k][1]) for k in en if set(zh_words[k][1]) != set(en[k][1])}
    assert not holes, f"entries whose values differ between en and zh: {holes}"
    used = page.evaluate("() => [...document.querySelectorAll('[data-i18n]')].map(e => e.dataset.i18n)")
    assert used and set(used) <= set(en)


PRESETS = {
    "The lesson": {"buyers": 10, "tickets": 1, "strategy": "read-write", "lock": "none", "executor": "process"},
    "Lost updates": {"buyers": 20, "tickets": 100, "lock": "none"},
    "A semaphore is not a lock": {"buyers": 10, "tickets": 1, "lock": "semaphore", "permits": 3},
    "A lock that times out": {"buyers": 10, "tickets": 1, "lock": "process", "lock_timeout_s": 0.5, "hold_ms": 1000},
    "The flash sale": {"buyers": 100_000, "tickets": 10_000, "executor": "pool", "lock": "file"},
}
READ_FORM = "async () => (await import('/static/form.js')).readForm()"


def test_dashboard_presets_set_up_each_lesson_in_one_click(server: Server, page: Page) -> None:
    page.goto(server.url)
    for name, wanted in PRESETS.items():
        page.get_by_role("button", name=name, exact=True).click()
        expect(page.get_by_role("button", name=name, exact=True)).to_have_attribute("aria-pressed", "true")
        config = page.evaluate(READ_FORM)
        assert {k: config.get(k) for k in wanted} == wanted, name
        assert "seed" not in config
    expect(page.locator("#preset-note")).to_contain_text("100,000 buyers for 10,000 tickets")

    page.get_by_role("button", name="A semaphore is not a lock", exact=True).click()
    page.get_by_role("button", name="Run", exact=True).click()
    card = page.locator("article.card")
    expect(card).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    result = server.get(str(card.get_attribute("data-id")))["result"]
    assert (result["tickets_handed_out"], result["oversold"]) == (3, 2)  # 3 permits: 3 tickets for 1 seat


def test_dashboard_shows_the_lessons_code_with_the_cures_lines_highlighted(server: Server, page: Page) -> None:
    card, _ = open_finished(server, page, {"buyers": 2, "tickets": 1, "lock": "file", "think_ms": 0, "hold_ms": 0})
    code = card.locator(".cure-code")
    code.get_by_text("The lesson's code for this cure").click()
    changed = code.locator(".line.changed")
    expect(changed).to_have_text(
        [
            "import fcntl",
            "    with open('db.json.lock', 'w') as lock:",
            "        fcntl.flock(lock, fcntl.LOCK_EX)",
            "        get(i)",
        ]
    )
    expect(code.locator(".line", has_text="print('路人%s抢票成功' % i)")).to_have_count(1)
    expect(code.locator(".code-note")).to_have_text(
        "The lesson's 12306 program with this cure; the 4 highlighted lines are what it changes."
    )
    card, _ = open_finished(server, page, {"buyers": 2, "tickets": 1, "lock": "none", "think_ms": 0, "hold_ms": 0})
    expect(card.locator(".cure-code .line.changed")).to_have_count(0)
    expect(card.locator(".cure-code .line", has_text="# mutex.acquire()")).to_have_count(1)


@pytest.mark.parametrize(("lang", "button"), [("en", "Run the matrix"), ("zh", "跑矩阵")])
def test_dashboard_matrix_shows_a_store_the_server_cannot_use_with_the_reason(
    server: Server, page: Page, lang: str, button: str
) -> None:
    stores = server.client.get("/cures", headers={"Accept-Language": lang}).json()["stores"]
    unusable = {s["name"]: s["problem"] for s in stores if not s["usable"]}
    assert set(unusable) == {"postgres", "redis"}  # the module's server has no TICKETRUSH_*_URL
    page.goto(f"{server.url}/?lang={lang}")
    expect(page.get_by_role("button", name=button)).to_be_enabled()

    rows = page.locator("#matrix-grid tbody tr")
    expect(rows).to_have_count(len(stores))
    for store in stores:
        row = page.locator(f"#matrix-grid tr[data-store='{store['name']}']")
        if store["usable"]:
            expect(row.locator("td.cell.pending")).to_have_count(len(store["cures"]))
            expect(row.locator(".matrix-problem")).to_have_count(0)
        else:
            expect(row.locator("td")).to_have_count(1)
            expect(row.locator("td.matrix-problem")).to_have_text(store["problem"])
            page.get_by_label("Store" if lang == "en" else "存储", exact=True).select_option(store["name"])
            expect(page.locator("#store-help")).to_have_text(store["problem"])
    assert "TICKETRUSH_POSTGRES_URL" in unusable["postgres"] and "TICKETRUSH_REDIS_URL" in unusable["redis"]
