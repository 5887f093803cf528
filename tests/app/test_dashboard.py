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

    def __init__(self, browser: Browser, viewport: ViewportSize) -> None:
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=viewport)
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
def open_context(browser: Browser) -> Iterator[Callable[[ViewportSize], Guarded]]:
    """`open_context(viewport)`: a guarded context, closed and checked at the end of the test."""
    opened: list[Guarded] = []

    def open_one(viewport: ViewportSize) -> Guarded:
        opened.append(Guarded(browser, viewport))
        return opened[-1]

    yield open_one
    for guarded in opened:
        guarded.close()


@pytest.fixture
def page(open_context: Callable[[ViewportSize], Guarded]) -> Page:
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
    expect(card.locator(".record h5")).to_have_text(f"Buyer {rows.nth(0).get_attribute('data-buyer')}: got a ticket")
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


def test_dashboard_opens_a_shared_link_in_a_new_page(
    server: Server, open_context: Callable[[ViewportSize], Guarded], tmp_path: Path
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
    waits = [float(w) for w in shown(card, "lock_wait").removesuffix(" ms").split(" / ")]
    assert waits == [result["lock_wait_p50_ms"], result["lock_wait_p95_ms"], result["lock_wait_max_ms"]]
    assert buckets[-1]["to_ms"] == result["lock_wait_max_ms"] > 0
    expect(card.locator(".timeline-note")).to_contain_text("this shows how long 2,000 buyers waited for the lock")
    expect(card.locator(".verdict")).to_have_text(f"\u2713 {result['verdict']}")
    page.screenshot(path=tmp_path / "histogram.png", full_page=True)


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
    while older.is_visible():
        older.click()
        expect(listed).not_to_have_count(15)
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
