/* One simulation's card: its live progress, then its result (the API's figures as they are) and its timeline.
 *
 *   POST /simulations (by the form) -> card --GET /simulations/{id}/events (SSE)--> progress, then the final simulation
 *   card --GET /simulations/{id}/buyers--> timeline (one row per buyer); for big runs, the result's lock-wait histogram
 */

import { api, parseJSON } from "./api.js";
import { $, text } from "./dom.js";
import { capitalize, delayText, plural } from "./format.js";
import { cureName, locksOf } from "./cures.js";
import { drawLegend, drawTimeline, spanOf } from "./timeline.js";
import { drawHistogram } from "./histogram.js";

export const TIMELINE_MAX_ROWS = 300;
export const FINAL = new Set(["completed", "failed", "cancelled", "interrupted"]);
const VERDICT_MARK = { safe: "\u2713", incomplete: "\u26A0", unsafe: "\u2715" };
const NO_RESULT = {
  cancelled: "stopped before it finished, so there is no result.",
  interrupted: "the server stopped during this run, so there is no result.",
  failed: "the run did not finish.",
};

/** `hooks`: open(ids) shows other simulations, repeat(config) fills the form, finished() a run has ended, and
 * timelineReady(card) its records are in (the view then draws every timeline on its axis). */
export class SimulationCard {
  constructor(id, hooks) {
    this.id = id;
    this.hooks = hooks;
    this.root = $("#card-template").content.firstElementChild.cloneNode(true);
    this.root.dataset.id = id;
    this.source = null;
    this.closed = false;
    this.records = null;
    this.simulation = null;
    /** The final simulation once the run has ended (null if the card is closed first or the run is missing). */
    this.finished = new Promise((resolve) => {
      this.settle = resolve;
    });
    $(".cancel", this.root).addEventListener("click", () => this.cancel());
  }

  /** The view no longer shows this card: stop following its run. */
  close() {
    this.closed = true;
    this.stopWatching();
    this.settle(null);
  }

  stopWatching() {
    if (this.source) this.source.close();
    this.source = null;
  }

  async open(known) {
    try {
      const simulation = known || (await api("GET", `/simulations/${encodeURIComponent(this.id)}`));
      this.render(simulation);
      if (!FINAL.has(simulation.status)) this.watch();
    } catch (err) {
      this.fail(err.status === 404 ? `No simulation ${this.id}.` : err.message);
    }
  }

  fail(message) {
    $(".card-title .cure", this.root).textContent = `Simulation ${this.id}`;
    const box = $(".card-error", this.root);
    box.textContent = message;
    box.hidden = false;
    $(".progress-block", this.root).hidden = true;
    this.root.dataset.status = "missing";
    this.settle(null);
  }

  /** Follow the event stream (`progress` events, then one `simulation` event); if it drops, look and listen again. */
  watch() {
    if (this.closed) return;
    const source = new EventSource(`/simulations/${encodeURIComponent(this.id)}/events`);
    this.source = source;
    const read = (event) => {
      try {
        return parseJSON(event.data);
      } catch (err) {
        return null;
      }
    };
    source.addEventListener("progress", (event) => {
      const progress = read(event);
      if (progress) this.progress(progress);
    });
    source.addEventListener("simulation", (event) => {
      const simulation = read(event);
      if (!simulation) return;
      this.render(simulation);
      if (FINAL.has(simulation.status)) this.stopWatching();
    });
    source.onerror = () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      if (!this.closed) window.setTimeout(() => this.recover(), 1000);
    };
  }

  async recover() {
    if (this.closed) return;
    try {
      const simulation = await api("GET", `/simulations/${encodeURIComponent(this.id)}`);
      this.render(simulation);
      if (!FINAL.has(simulation.status)) this.watch();
    } catch (err) {
      if (err.status === 404) this.fail(`Simulation ${this.id} no longer exists.`);
      else window.setTimeout(() => this.recover(), 2000);
    }
  }

  async cancel() {
    const button = $(".cancel", this.root);
    button.disabled = true;
    try {
      const simulation = await api("POST", `/simulations/${encodeURIComponent(this.id)}/cancel`);
      if (simulation && simulation.status) this.render(simulation);
    } catch (err) {
      $(".progress-text", this.root).textContent = err.message;
      button.disabled = false;
    }
  }

  progress(progress) {
    if (progress.status && progress.status !== this.status) this.setStatus(progress.status);
    const bar = $("progress", this.root);
    bar.max = Math.max(1, Number(progress.buyers) || 1);
    bar.value = Number(progress.finished) || 0;
    $(".progress-text", this.root).textContent =
      this.status === "queued"
        ? "Queued: waiting for a free slot"
        : `${capitalize(this.status || "running")}: ${progress.finished} of ${plural(progress.buyers, "buyer")} finished`;
  }

  setStatus(status) {
    this.status = status;
    this.root.dataset.status = status;
    const chip = $(".status-chip", this.root);
    chip.textContent = status;
    chip.dataset.status = status;
  }

  render(simulation) {
    const root = this.root;
    const config = simulation.config || {};
    this.simulation = simulation;
    const cure = cureName(config.strategy, config.lock);
    Object.assign(root.dataset, { store: config.store, strategy: config.strategy, lock: config.lock, cure });
    $(".card-title .cure", root).textContent = cure;
    $(".card-title .store", root).textContent = `on the ${config.store} store`;
    this.setStatus(simulation.status);

    const running = !FINAL.has(simulation.status);
    $(".progress-block", root).hidden = !running;
    $(".cancel", root).hidden = !running;
    if (simulation.progress) this.progress(simulation.progress);

    const error = $(".card-error", root);
    const problem = simulation.error || (running || simulation.result ? "" : NO_RESULT[simulation.status] || "");
    error.hidden = !problem;
    error.textContent = problem ? `${capitalize(simulation.status)}: ${problem}` : "";

    if (!running && !this.rendered) {
      this.rendered = true;
      if (simulation.result) this.renderResult(simulation);
      this.renderLinks(simulation);
      this.loadTimeline(simulation);
      this.hooks.finished();
      this.settle(simulation);
    }
  }

  renderResult(simulation) {
    const r = simulation.result;
    const config = simulation.config;
    const outcome = $(".outcome", this.root);
    outcome.hidden = false;
    const verdict = $(".verdict", this.root);
    verdict.dataset.verdict = r.verdict_kind;
    verdict.textContent = `${VERDICT_MARK[r.verdict_kind] || ""} ${r.verdict}`;

    const figures = $(".figures", this.root);
    figures.replaceChildren();
    const figure = (field, label, note, alarm) => {
      const box = text("div", null, "figure");
      box.dataset.field = field;
      if (alarm) box.classList.add("alarm");
      box.append(text("dt", label));
      const value = text("dd", r[field], "value");
      value.dataset.field = field;
      box.append(value);
      if (note) box.append(text("dd", note, "note"));
      figures.append(box);
    };
    figure("tickets_handed_out", "Handed out", "buyers told they got a ticket");
    figure("tickets_sold", "Sold", "tickets that left the db");
    figure("tickets_remaining", "Remaining", `of ${r.tickets_initial} at the start`);
    figure("oversold", "Oversold", "seats that did not exist", r.oversold > 0);
    figure("lost_updates", "Lost updates", "sales overwritten", r.lost_updates > 0);

    $(".explanation", this.root).textContent = r.explanation;

    const details = $(".details", this.root);
    details.replaceChildren();
    const takesLock = locksOf(config.store, config.strategy).some((lock) => lock !== "none");
    const rows = [
      ["Seed", config.seed, "seed"],
      ["Buyers", `${r.buyers_total}: ${r.buyers_succeeded} got one, ${r.buyers_sold_out} sold out, ` +
        `${r.buyers_gave_up} gave up, ${r.buyers_errored} failed`, "buyers", "wide"],
    ];
    if (config.strategy === "seller") {
      rows.push(
        ["Seller's queue wait p50 / p95", `${r.queue_wait_p50_ms} / ${r.queue_wait_p95_ms} ms`, "queue_wait", "wide"],
        ["Seller's rounds", r.seller_rounds, "seller_rounds"],
      );
    } else {
      rows.push(["Most in read\u2013write at once", r.max_in_critical, "max_in_critical"]);
    }
    if (config.strategy === "optimistic") {
      rows.push(["Retries (refused writes)", r.retries, "retries"], ["Max retries per buyer", config.max_retries]);
    }
    if (takesLock) {
      rows.push(["Lock wait p50 / p95 / max", `${r.lock_wait_p50_ms} / ${r.lock_wait_p95_ms} / ${r.lock_wait_max_ms} ms`,
        "lock_wait", "wide"]);
    }
    if (config.lock === "semaphore") rows.push(["Semaphore permits", config.permits, "permits"]);
    rows.push(
      ["Purchase p50 / p95", `${r.purchase_p50_ms} / ${r.purchase_p95_ms} ms`, "purchase", "wide"],
      ["Duration", `${r.duration_ms} ms`, "duration_ms"],
      ["Sales per second", r.sales_per_second, "sales_per_second"],
      ["Executor", config.executor === "pool" ? `pool of ${config.workers}` : "process per buyer"],
      ["Think / hold", `${delayText(config.think_ms)} / ${delayText(config.hold_ms)}`],
    );
    for (const [label, value, field, size] of rows) {
      const row = text("div", null, size === "wide" ? "wide" : undefined);
      row.append(text("dt", label));
      const dd = text("dd", value);
      if (field) dd.dataset.field = field;
      row.append(dd);
      details.append(row);
    }
  }

  renderLinks(simulation) {
    const links = $(".card-links", this.root);
    links.replaceChildren();
    links.hidden = false;
    const link = text("a", "Link to this run");
    link.href = `/?id=${encodeURIComponent(simulation.id)}`;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      this.hooks.open([simulation.id]);
    });
    const csv = text("a", "Buyer records (CSV)");
    csv.href = `/simulations/${encodeURIComponent(simulation.id)}/buyers?format=csv`;
    csv.setAttribute("download", `ticketrush-${simulation.id}.csv`);
    const repeat = text("button", "Repeat in the form", "quiet");
    repeat.type = "button";
    repeat.addEventListener("click", () => this.hooks.repeat(simulation.config));
    links.append(link);
    if (simulation.result) links.append(csv);
    links.append(repeat);
  }

  async loadTimeline(simulation) {
    const section = $(".timeline", this.root);
    const path = `/simulations/${encodeURIComponent(simulation.id)}/buyers`;
    try {
      const first = await api("GET", `${path}?offset=0&limit=${TIMELINE_MAX_ROWS}`);
      if (!first.count || this.closed) return;
      section.hidden = false;
      if (first.count <= TIMELINE_MAX_ROWS) {
        this.records = first.data;
        this.spanMs = spanOf(this.records).spanMs;
        this.hooks.timelineReady(this);
        return;
      }
      if (simulation.result) {
        drawHistogram({ root: this.root, id: this.id, simulation, rowLimit: TIMELINE_MAX_ROWS });
        drawLegend(this.root, this.id, simulation.config, null);
      }
    } catch (err) {
      section.hidden = false;
      $(".timeline-note", this.root).textContent = `The buyer records could not be loaded: ${err.message}`;
    }
  }

  /** Draw the timeline on `axisMs` (a comparison's shared axis), or on the run's own span when null. */
  drawTimeline(axisMs) {
    if (!this.records) return;
    drawTimeline({ root: this.root, id: this.id, simulation: this.simulation, records: this.records, axisMs });
  }
}
