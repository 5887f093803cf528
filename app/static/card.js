/* One simulation's card: its live progress, then its result (the API's figures as they are) and its timeline.
 *
 *   POST /simulations (by the form) -> card --GET /simulations/{id}/events (SSE)--> progress, then the final simulation
 *   card --GET /simulations/{id}/buyers--> timeline (one row per buyer); for big runs, the result's lock-wait histogram
 *   a step-mode run: its buttons (steps.js) while it runs; a run with a schedule: its replay (replay.js)
 *   beside the cure: the lesson's code as the cure changes it (curecode.js)
 */

import { api, parseJSON, withLanguage } from "./api.js";
import { $, text } from "./dom.js";
import { delayText } from "./format.js";
import { keepLanguage, num, t, translatePage } from "./i18n.js";
import { cureName, locksOf } from "./cures.js";
import { drawLegend, drawTimeline, spanOf } from "./timeline.js";
import { drawHistogram } from "./histogram.js";
import { StepPanel } from "./steps.js";
import { ReplayPanel } from "./replay.js";
import { showLessonCode } from "./curecode.js";

export const TIMELINE_MAX_ROWS = 300;
export const FINAL = new Set(["completed", "failed", "cancelled", "interrupted"]);
const VERDICT_MARK = { safe: "\u2713", incomplete: "\u26A0", unsafe: "\u2715" };
const NO_RESULT = new Set(["cancelled", "interrupted", "failed"]);

/** `hooks`: open(ids) shows other simulations, repeat(config) fills the form, run(config) starts one, finished() a
 * run has ended, and timelineReady(card) its records are in (the view then draws every timeline on its axis). */
export class SimulationCard {
  constructor(id, hooks) {
    this.id = id;
    this.hooks = hooks;
    this.root = $("#card-template").content.firstElementChild.cloneNode(true);
    translatePage(this.root);
    this.root.dataset.id = id;
    this.stepping = null;
    this.replay = new ReplayPanel(this, (config) => this.hooks.run(config));
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
      this.fail(err.status === 404 ? t("card.missing", { id: this.id }) : err.message);
    }
  }

  fail(message) {
    $(".card-title .cure", this.root).textContent = t("card.simulation", { id: this.id });
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
    const source = new EventSource(withLanguage(`/simulations/${encodeURIComponent(this.id)}/events`));
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
      if (err.status === 404) this.fail(t("card.gone", { id: this.id }));
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
        ? t("progress.queued")
        : t("progress.running", {
            status: t(`status.${this.status || "running"}`),
            finished: Number(progress.finished) || 0,
            n: Number(progress.buyers) || 0,
          });
  }

  setStatus(status) {
    this.status = status;
    this.root.dataset.status = status;
    const chip = $(".status-chip", this.root);
    chip.textContent = t(`status.chip.${status}`);
    chip.dataset.status = status;
    if (this.stepping) this.stepping.setStatus(status);
  }

  render(simulation) {
    const root = this.root;
    const config = simulation.config || {};
    this.simulation = simulation;
    const cure = cureName(config.strategy, config.lock);
    Object.assign(root.dataset, { store: config.store, strategy: config.strategy, lock: config.lock, cure });
    $(".card-title .cure", root).textContent = cure;
    $(".card-title .store", root).textContent = t("card.store", { store: config.store });
    root.dataset.mode = config.mode || "run";
    this.setStatus(simulation.status);
    showLessonCode($(".cure-code", root), config);

    const running = !FINAL.has(simulation.status);
    if (config.mode === "step" && running && !this.stepping) {
      this.stepping = new StepPanel(this);
      this.stepping.open(simulation);
    }
    $(".progress-block", root).hidden = !running;
    $(".cancel", root).hidden = !running;
    if (simulation.progress) this.progress(simulation.progress);

    const error = $(".card-error", root);
    const noResult = !running && !simulation.result && NO_RESULT.has(simulation.status);
    const problem = simulation.error || (noResult ? t(`card.no_result.${simulation.status}`) : "");
    error.hidden = !problem;
    error.textContent = problem ? t("card.problem", { status: t(`status.${simulation.status}`), problem }) : "";

    if (!running && !this.rendered) {
      this.rendered = true;
      if (this.stepping) this.stepping.close();
      if (simulation.result) this.renderResult(simulation);
      if (simulation.result && simulation.result.schedule) this.replay.open(simulation);
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
    const figure = (field, alarm) => {
      const box = text("div", null, "figure");
      box.dataset.field = field;
      if (alarm) box.classList.add("alarm");
      box.append(text("dt", t(`figure.${field}`)));
      const value = text("dd", num(r[field]), "value");
      value.dataset.field = field;
      box.append(value);
      box.append(text("dd", t(`figure.${field}.note`, { n: r.tickets_initial }), "note"));
      figures.append(box);
    };
    figure("tickets_handed_out");
    figure("tickets_sold");
    figure("tickets_remaining");
    figure("oversold", r.oversold > 0);
    figure("lost_updates", r.lost_updates > 0);

    $(".explanation", this.root).textContent = r.explanation;

    const details = $(".details", this.root);
    details.replaceChildren();
    const takesLock = locksOf(config.store, config.strategy).some((lock) => lock !== "none") ||
      config.strategy === "for-update";  // the store's own write lock
    const ms = (...values) => t("unit.ms", { n: values.map(num).join(" / ") });
    const rows = [
      ["seed", String(config.seed), "seed"],
      ["buyers", t("detail.buyers.value", {
        n: r.buyers_total, got: r.buyers_succeeded, sold_out: r.buyers_sold_out, gave_up: r.buyers_gave_up,
        failed: r.buyers_errored,
      }), "buyers", "wide"],
    ];
    if (config.strategy === "seller") {
      rows.push(
        ["queue_wait", ms(r.queue_wait_p50_ms, r.queue_wait_p95_ms), "queue_wait", "wide"],
        ["seller_rounds", num(r.seller_rounds), "seller_rounds"],
      );
    } else {
      rows.push(["max_in_critical", num(r.max_in_critical), "max_in_critical"]);
    }
    if (config.strategy === "optimistic" || config.strategy === "serializable") {
      rows.push(["retries", num(r.retries), "retries"], ["max_retries", num(config.max_retries)]);
    }
    if (takesLock) {
      rows.push(["lock_wait", ms(r.lock_wait_p50_ms, r.lock_wait_p95_ms, r.lock_wait_max_ms), "lock_wait", "wide"]);
    }
    if (config.lock === "semaphore") rows.push(["permits", num(config.permits), "permits"]);
    if (r.schedule) rows.push(["schedule", r.schedule.join(","), "schedule", "wide"]);
    rows.push(
      ["purchase", ms(r.purchase_p50_ms, r.purchase_p95_ms), "purchase", "wide"],
      ["duration_ms", ms(r.duration_ms), "duration_ms"],
      ["sales_per_second", num(r.sales_per_second), "sales_per_second"],
      ["executor", config.executor === "pool" ? t("detail.executor.pool", { n: config.workers }) :
        t("detail.executor.process")],
      ["think_hold", `${delayText(config.think_ms)} / ${delayText(config.hold_ms)}`],
    );
    for (const [name, value, field, size] of rows) {
      const row = text("div", null, size === "wide" ? "wide" : undefined);
      row.append(text("dt", t(`detail.${name}`)));
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
    const link = text("a", t("card.link"));
    link.href = keepLanguage(`/?id=${encodeURIComponent(simulation.id)}`);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      this.hooks.open([simulation.id]);
    });
    const csv = text("a", t("card.csv"));
    csv.href = `/simulations/${encodeURIComponent(simulation.id)}/buyers?format=csv`;
    csv.setAttribute("download", `ticketrush-${simulation.id}.csv`);
    const repeat = text("button", t("card.repeat"), "quiet");
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
      $(".timeline-note", this.root).textContent = t("card.records_failed", { error: err.message });
    }
  }

  /** Draw the step charts again (the window's width changed). */
  redrawSteps() {
    if (this.stepping && !this.stepping.box.hidden) this.stepping.draw();
    this.replay.redraw();
  }

  /** Draw the timeline on `axisMs` (a comparison's shared axis), or on the run's own span when null. */
  drawTimeline(axisMs) {
    if (!this.records) return;
    drawTimeline({ root: this.root, id: this.id, simulation: this.simulation, records: this.records, axisMs });
  }
}
