"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real server.

One server and one browser serve the whole module; every test opens its own page and saves screenshots into
its tmp_path. Every request a page makes is intercepted: one that would leave 127.0.0.1 is refused and fails
the test, as does an error the page throws.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from live_server import Server, wait_for
from playwright.sync_api import Browser, Locator, Page, Route, ViewportSize, expect, sync_playwright

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


class Guarded:
    """A browser context whose every request is intercepted: those to 127.0.0.1 go through, any other is
    refused and noted ("nothing fetched from outside"); errors the page throws are noted too."""

    def __init__(self, browser: Browser, viewport: ViewportSize) -> None:
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport=viewport)
        self.context.route("**/*", self._route)

    def _route(self, route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

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


def test_dashboard_bad_input_names_the_field(server: Server, page: Page, tmp_path: Path) -> None:
    page.goto(server.url)
    page.get_by_label("Buyers", exact=True).fill("0")
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("buyers")
    expect(page.locator("article.card")).to_have_count(0)


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
