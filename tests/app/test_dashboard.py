"""The dashboard and the API docs in a real browser (Debian's chromium driven by Playwright) against a real server
started as `make run` starts it.

One server and one browser serve the whole module; every test opens its own page and saves screenshots into
its tmp_path. The network is closed: every request the page makes goes through `closed_network`, which lets
only those to the server on 127.0.0.1 through, and a test fails if the page tried any other.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from live_server import Server, wait_for, when
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Route, expect, sync_playwright

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
WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
VERDICT_MARK = {"safe": "\u2713", "incomplete": "\u26a0", "unsafe": "\u2715"}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install chromium")


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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    outside = closed_network(context)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"
    assert not outside, f"the page fetched from outside: {outside}"


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


def test_dashboard_compare_runs_each_lock_side_by_side(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    fill_small_rush(page)
    page.get_by_role("button", name="Compare locks").click()

    cards = page.locator("article.card")
    expect(cards).to_have_count(3)
    for i in range(3):
        expect(cards.nth(i)).to_have_attribute("data-status", "completed", timeout=RUN_TIMEOUT_MS)
    by_lock = {cards.nth(i).get_attribute("data-lock"): cards.nth(i) for i in range(3)}
    assert set(by_lock) == {"none", "process", "file"}

    seeds = set()
    for lock, card in by_lock.items():
        simulation = server.get(str(card.get_attribute("data-id")))
        seeds.add(simulation["config"]["seed"])
        assert shown(card, "oversold") == str(simulation["result"]["oversold"]), lock
        expect(card.locator("svg .row")).to_have_count(10)
    assert len(seeds) == 1, "a comparison runs every lock with the same seed"
    assert int(shown(by_lock["none"], "oversold")) >= 1
    assert shown(by_lock["process"], "oversold") == "0"
    assert shown(by_lock["file"], "oversold") == "0"
    tops = {round(card.bounding_box()["y"]) for card in by_lock.values()}  # type: ignore[index]
    assert len(tops) == 1, "the three results sit side by side"
    page.screenshot(path=tmp_path / "compare-wide.png", full_page=True)


def test_dashboard_opens_a_shared_link_in_a_new_page(server: Server, browser: Browser, tmp_path: Path) -> None:
    simulation_id = server.post({"buyers": 10, "tickets": 1, "lock": "file", "think_ms": 20, "hold_ms": [20, 60]})["id"]

    context = browser.new_context(viewport=PHONE)
    outside = closed_network(context)
    try:
        page = context.new_page()
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
    finally:
        context.close()
    assert not outside, f"the page fetched from outside: {outside}"


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


SHOWN_TIME = "(iso) => formatWhen(iso)"  # how the page writes a time


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
