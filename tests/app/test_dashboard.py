"""The dashboard in a real browser (Debian's chromium driven by Playwright) against a real server.

One server and one browser serve the whole module; every test opens its own page and saves screenshots into
its tmp_path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from live_server import Server
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

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


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=WIDE)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"


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
