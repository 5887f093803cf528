/*
 * The ticketrush dashboard: one page over the HTTP API.
 *
 *   form --POST /simulations--> card --GET /simulations/{id}/events (SSE)--> progress, then the final simulation
 *   card --GET /simulations/{id}/buyers--> timeline (one row per buyer); for big runs, the result's lock-wait histogram
 *   list --GET /simulations--> links to /?id=... (several ids: a comparison)
 *
 * Every figure shown comes from the API as it is; the only thing computed here is the timeline's geometry.
 */
"use strict";

const TIMELINE_MAX_ROWS = 300;
const HISTORY_PAGE = 15;
const LOCKS = ["none", "process", "file"];
const LOCK_NAMES = { none: "No lock", process: "Process lock", file: "File lock" };
const FINAL = new Set(["completed", "failed", "cancelled", "interrupted"]);
const SVG_NS = "http://www.w3.org/2000/svg";
const OUTCOME_TEXT = {
  success: "got a ticket",
  sold_out: "found it sold out",
  gave_up: "gave up waiting for the lock",
  error: "failed",
};
const NO_RESULT = {
  cancelled: "stopped before it finished, so there is no result.",
  interrupted: "the server stopped during this run, so there is no result.",
  failed: "the run did not finish.",
};
const OUTCOME_MARK = { success: "\u2713", sold_out: "\u25CB", gave_up: "\u2013", error: "\u2715" };
const VERDICT_MARK = { safe: "\u2713", incomplete: "\u26A0", unsafe: "\u2715" };

const $ = (selector, root = document) => root.querySelector(selector);

/** "1 buyer", "2 buyers", "1,000 buyers". */
function plural(n, word, many = `${word}s`) {
  return `${Number(n).toLocaleString("en")} ${Number(n) === 1 ? word : many}`;
}

/* ---------- talking to the API ---------- */

/** JSON.parse that keeps integers beyond 2^53 (seeds, nanosecond clocks) exact, as strings. */
function parseJSON(text) {
  return JSON.parse(text, (key, value, context) => {
    if (typeof value === "number" && Number.isInteger(value) && !Number.isSafeInteger(value) && context) {
      return context.source;
    }
    return value;
  });
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** FastAPI's `detail` (a string, or a list of {loc, msg}) as one readable line naming the fields. */
function describeError(status, body) {
  const detail = body && body.detail;
  if (Array.isArray(detail)) {
    return detail
      .map((d) => {
        const loc = (d.loc || []).filter((part) => part !== "body").join(".");
        return loc && !String(d.msg).startsWith(`${loc}:`) ? `${loc}: ${d.msg}` : d.msg;
      })
      .join("; ");
  }
  if (typeof detail === "string") return detail;
  return `The server answered ${status}.`;
}

async function api(method, path, bodyText) {
  const headers = { Accept: "application/json" };
  if (bodyText !== undefined) headers["Content-Type"] = "application/json";
  const token = $("#token").value.trim();
  if (token && method !== "GET") headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body: bodyText });
  } catch (err) {
    throw new ApiError(0, "The server could not be reached.");
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? parseJSON(text) : null;
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    let message = describeError(response.status, body);
    if (response.status === 401) message += " Set the API token under More options.";
    throw new ApiError(response.status, message);
  }
  return body;
}

/** The request body; the seed is written as typed, so a seed beyond 2^53 is not rounded (and a negative one is
 * sent as the number it is, for the server to refuse as a seed rather than as text). */
function configBody(config) {
  const { seed, ...rest } = config;
  const text = JSON.stringify(rest);
  if (seed === undefined || seed === null || seed === "") return text;
  const literal = /^-?\d+$/.test(String(seed)) ? String(seed) : JSON.stringify(String(seed));
  return text === "{}" ? `{"seed":${literal}}` : `${text.slice(0, -1)},"seed":${literal}}`;
}

/* ---------- the form ---------- */

/** The field's number; an empty (or unreadable) field is null, which the server refuses naming the field,
 * rather than left out, which would run with a default the user did not ask for. Optional fields (the pool
 * size, whose placeholder says what empty means) are left out when empty. */
function numberField(name, { optional = false } = {}) {
  const input = document.getElementById(name);
  if (input.value.trim() === "") return optional ? undefined : null;
  return Number(input.value);
}

function delayField(name) {
  const low = numberField(`${name}_min`);
  const high = numberField(`${name}_max`);
  if (low === null || high === null || low === high) return low ?? high;
  return [low, high];
}

function readForm() {
  const config = {
    buyers: numberField("buyers"),
    tickets: numberField("tickets"),
    lock: $("#lock").value,
    executor: $("#executor").value,
    workers: $("#executor").value === "pool" ? numberField("workers", { optional: true }) : undefined,
    think_ms: delayField("think"),
    hold_ms: delayField("hold"),
    together: $("#together").checked,
    lock_timeout_s: numberField("lock_timeout_s"),
  };
  const seed = $("#seed").value.trim();
  if (seed) config.seed = seed;
  for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
  return config;
}

function fillForm(config) {
  const set = (id, value) => {
    document.getElementById(id).value = value === undefined || value === null ? "" : String(value);
  };
  set("buyers", config.buyers);
  set("tickets", config.tickets);
  set("lock", config.lock);
  set("executor", config.executor);
  set("workers", config.executor === "pool" ? config.workers : "");
  for (const name of ["think", "hold"]) {
    const delay = config[`${name}_ms`];
    const [low, high] = Array.isArray(delay) ? delay : [delay, delay];
    set(`${name}_min`, low);
    set(`${name}_max`, high);
  }
  set("seed", config.seed);
  set("lock_timeout_s", config.lock_timeout_s);
  $("#together").checked = config.together !== false;
}

function showFormError(message) {
  const box = $("#form-error");
  box.textContent = message || "";
  box.hidden = !message;
}

function setBusy(busy) {
  $("#run").disabled = busy;
  $("#compare").disabled = busy;
}

async function runOne(event) {
  event.preventDefault();
  showFormError("");
  setBusy(true);
  try {
    const simulation = await api("POST", "/simulations", configBody(readForm()));
    showSimulations([simulation.id], { push: true, initial: [simulation] });
    refreshHistory();
  } catch (err) {
    showFormError(err.message);
  } finally {
    setBusy(false);
  }
}

async function runCompare() {
  showFormError("");
  setBusy(true);
  try {
    const base = readForm();
    const first = await api("POST", "/simulations", configBody({ ...base, lock: LOCKS[0] }));
    const seed = first.config && first.config.seed !== null ? first.config.seed : undefined;
    const rest = await Promise.all(
      LOCKS.slice(1).map((lock) => api("POST", "/simulations", configBody({ ...base, lock, seed }))),
    );
    const all = [first, ...rest];
    showSimulations(
      all.map((s) => s.id),
      { push: true, initial: all },
    );
    refreshHistory();
  } catch (err) {
    showFormError(err.message);
  } finally {
    setBusy(false);
  }
}

/* ---------- which simulations the page shows: the URL says ---------- */

function idsFromLocation() {
  const params = new URLSearchParams(window.location.search);
  const ids = params.getAll("id").flatMap((value) => value.split(","));
  if (!ids.length && window.location.hash.length > 1) ids.push(...window.location.hash.slice(1).split(","));
  return ids.map((id) => id.trim()).filter(Boolean);
}

function urlFor(ids) {
  const params = new URLSearchParams();
  for (const id of ids) params.append("id", id);
  return `/?${params}`;
}

const view = { cards: [] };

function showSimulations(ids, { push = false, initial = [] } = {}) {
  for (const card of view.cards) card.close();
  view.cards = [];
  if (push) window.history.pushState({ ids }, "", urlFor(ids));
  const holder = $("#cards");
  holder.replaceChildren();
  holder.dataset.count = String(ids.length);
  $("#empty").hidden = ids.length > 0;
  for (const id of ids) {
    const card = new SimulationCard(id, ids.length > 1);
    holder.append(card.root);
    view.cards.push(card);
    card.open(initial.find((s) => s.id === id));
  }
  if (push) $("#results").focus({ preventScroll: false });
}

/* ---------- one simulation: progress, result, timeline ---------- */

function text(tag, content, className) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (content !== undefined && content !== null) el.textContent = String(content);
  return el;
}

function delayText(delay) {
  if (Array.isArray(delay)) return `${delay[0]}\u2013${delay[1]} ms`;
  return `${delay} ms`;
}

class SimulationCard {
  constructor(id, inComparison) {
    this.id = id;
    this.inComparison = inComparison;
    this.root = $("#card-template").content.firstElementChild.cloneNode(true);
    this.root.dataset.id = id;
    this.source = null;
    this.closed = false;
    this.records = null;
    $(".cancel", this.root).addEventListener("click", () => this.cancel());
  }

  close() {
    this.closed = true;
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
    $(".card-title", this.root).textContent = `Simulation ${this.id}`;
    const box = $(".card-error", this.root);
    box.textContent = message;
    box.hidden = false;
    $(".progress-block", this.root).hidden = true;
    this.root.dataset.status = "missing";
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
      if (FINAL.has(simulation.status)) this.close();
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
    root.dataset.lock = config.lock || "";
    const title = this.inComparison ? LOCK_NAMES[config.lock] || config.lock : "Lock: " + (config.lock || "?");
    $(".card-title", root).textContent = title;
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
      refreshHistory();
    }
  }

  renderResult(simulation) {
    const r = simulation.result;
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
    const config = simulation.config;
    const rows = [
      ["Seed", config.seed, "seed"],
      ["Buyers", `${r.buyers_total}: ${r.buyers_succeeded} got one, ${r.buyers_sold_out} sold out, ` +
        `${r.buyers_gave_up} gave up, ${r.buyers_errored} failed`, "buyers", "wide"],
      ["Most in read\u2013write at once", r.max_in_critical, "max_in_critical"],
      ["Lock wait p50 / p95 / max", `${r.lock_wait_p50_ms} / ${r.lock_wait_p95_ms} / ${r.lock_wait_max_ms} ms`,
        "lock_wait", "wide"],
      ["Duration", `${r.duration_ms} ms`, "duration_ms"],
      ["Sales per second", r.sales_per_second, "sales_per_second"],
      ["Executor", config.executor === "pool" ? `pool of ${config.workers}` : "process per buyer"],
      ["Think / hold", `${delayText(config.think_ms)} / ${delayText(config.hold_ms)}`],
    ];
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
    link.href = urlFor([simulation.id]);
    link.addEventListener("click", (event) => {
      event.preventDefault();
      showSimulations([simulation.id], { push: true });
    });
    const csv = text("a", "Buyer records (CSV)");
    csv.href = `/simulations/${encodeURIComponent(simulation.id)}/buyers?format=csv`;
    csv.setAttribute("download", `ticketrush-${simulation.id}.csv`);
    const repeat = text("button", "Repeat in the form", "quiet");
    repeat.type = "button";
    repeat.addEventListener("click", () => {
      fillForm(simulation.config);
      $("#buyers").focus();
      $("#config").scrollIntoView({ behavior: "smooth", block: "start" });
    });
    links.append(link);
    if (simulation.result) links.append(csv);
    links.append(repeat);
  }

  /* ---------- timeline ---------- */

  async loadTimeline(simulation) {
    const section = $(".timeline", this.root);
    const path = `/simulations/${encodeURIComponent(simulation.id)}/buyers`;
    try {
      const first = await api("GET", `${path}?offset=0&limit=${TIMELINE_MAX_ROWS}`);
      if (!first.count) return;
      section.hidden = false;
      if (first.count <= TIMELINE_MAX_ROWS) {
        this.records = first.data;
        this.drawTimeline();
        return;
      }
      if (simulation.result) this.drawHistogram(simulation.result);
    } catch (err) {
      section.hidden = false;
      $(".timeline-note", this.root).textContent = `The buyer records could not be loaded: ${err.message}`;
    }
  }

  redraw() {
    if (this.records) this.drawTimeline();
  }

  drawTimeline() {
    const records = this.records;
    const chart = $(".timeline-chart", this.root);
    const lock = this.simulation.config.lock;
    $(".timeline-title", this.root).textContent = `Timeline: ${plural(records.length, "buyer")}`;
    $(".timeline-note", this.root).textContent =
      "One row per buyer, in the order they read the count. " +
      (lock === "none"
        ? "Without a lock the read\u2013write windows overlap: each buyer in an overlap sold from a stale count."
        : "Under the lock the read\u2013write windows follow one another like a staircase.") +
      " Hover, tap or focus a row (arrow keys move between rows) to see that buyer's record.";

    const times = [];
    for (const r of records) {
      for (const key of ["t_start", "t_end", "t_searched", "t_read", "t_write"]) {
        if (r[key] !== null && r[key] !== undefined) times.push(Number(r[key]));
      }
    }
    const origin = times.length ? Math.min(...times) : 0;
    const spanMs = times.length ? Math.max(1e-3, (Math.max(...times) - origin) / 1e6) : 1;
    const ms = (t) => (t === null || t === undefined ? null : (Number(t) - origin) / 1e6);
    const ordered = [...records].sort((a, b) => {
      const ka = ms(a.t_read ?? a.t_end ?? a.t_start) ?? Infinity;
      const kb = ms(b.t_read ?? b.t_end ?? b.t_start) ?? Infinity;
      return ka - kb || a.buyer - b.buyer;
    });

    const rowH = ordered.length <= 24 ? 20 : ordered.length <= 60 ? 13 : ordered.length <= 150 ? 7 : 4;
    const labelled = rowH >= 13;
    const width = Math.max(280, Math.floor(chart.clientWidth || 320));
    const left = labelled ? 34 : 8;
    const right = labelled ? 20 : 8;
    const top = 22;
    const plotW = width - left - right;
    const height = top + ordered.length * rowH + 6;
    const x = (t) => left + (t / spanMs) * plotW;

    const svg = svgEl("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      class: "timeline-svg",
      role: "group",
      "aria-label": `Timeline of ${plural(ordered.length, "buyer")} over ${spanMs.toFixed(1)} ms`,
    });
    svg.append(patterns(`tr-${this.id}`));

    for (const tick of niceTicks(spanMs, Math.max(2, Math.floor(plotW / 70)))) {
      const tx = x(tick);
      svg.append(svgEl("line", { x1: tx, x2: tx, y1: top - 4, y2: height - 6, class: "grid" }));
      const anchor = tick === 0 ? "start" : "middle";
      svg.append(svgText(`${formatTick(tick)}${tick === 0 ? " ms" : ""}`, tx, top - 8, `axis-label ${anchor}`));
    }

    const pid = (name) => `url(#tr-${this.id}-${name})`;
    ordered.forEach((r, i) => {
      const y = top + i * rowH;
      const g = svgEl("g", {
        class: `row outcome-${r.outcome}`,
        tabindex: i === 0 ? 0 : -1,
        role: "button",
        "data-buyer": r.buyer,
        "aria-label": `Buyer ${r.buyer} ${OUTCOME_TEXT[r.outcome] || r.outcome}`,
      });
      g.append(svgEl("rect", { x: 0, y, width, height: rowH, class: "row-hit" }));
      const barH = Math.max(2, rowH - (rowH >= 13 ? 6 : 1));
      const barY = y + (rowH - barH) / 2;
      const span = (from, to, cls, fill, thin) => {
        const a = ms(from);
        const b = ms(to);
        if (a === null || b === null) return;
        const h = thin ? Math.max(1, barH / 3) : barH;
        const attrs = { x: x(a), y: y + (rowH - h) / 2, width: Math.max(1, x(b) - x(a)), height: h, class: cls };
        if (fill) attrs.style = `fill: ${fill}`;
        g.append(svgEl("rect", attrs));
      };
      span(r.t_start, r.t_searched, "bar think", null, true);
      if (lock !== "none") span(r.t_lock_requested, r.t_lock_acquired, "bar wait", pid("wait"));
      if (r.outcome === "gave_up") span(r.t_lock_requested, r.t_end, "bar wait gaveup", pid("wait"));
      if (r.outcome === "success") {
        span(r.t_read, r.t_write, "bar critical", null);
      } else if (r.outcome === "sold_out" && r.t_read !== null) {
        const cx = x(ms(r.t_read));
        g.append(svgEl("rect", { x: cx - 1, y: barY, width: Math.max(3, barH / 2), height: barH, class: "bar soldout" }));
      } else if (r.outcome === "error") {
        if (r.t_start !== null && r.t_end !== null) span(r.t_start, r.t_end, "bar error", pid("error"));
      }
      if (labelled) {
        g.append(svgText(String(r.buyer), left - 6, y + rowH / 2 + 4, "row-label end"));
        g.append(svgText(OUTCOME_MARK[r.outcome] || "?", width - right + 6, y + rowH / 2 + 4, "row-mark start"));
      }
      const title = svgEl("title", {});
      title.textContent = `Buyer ${r.buyer}: ${OUTCOME_TEXT[r.outcome] || r.outcome}`;
      g.append(title);
      const show = () => this.showRecord(r, origin, g);
      g.addEventListener("mouseenter", show);
      g.addEventListener("focus", show);
      g.addEventListener("click", show);
      svg.append(g);
    });
    svg.addEventListener("keydown", (event) => moveFocus(event, svg));
    chart.replaceChildren(svg);
    this.drawLegend(true);
  }

  showRecord(record, origin, row) {
    for (const el of this.root.querySelectorAll(".row.selected")) el.classList.remove("selected");
    row.classList.add("selected");
    const box = $(".record", this.root);
    const title = text("h5", `Buyer ${record.buyer}: ${OUTCOME_TEXT[record.outcome] || record.outcome}`);
    const list = text("dl", null, "record-fields");
    for (const [key, value] of Object.entries(record)) {
      const item = text("div");
      item.append(text("dt", key));
      const dd = text("dd", value === null ? "null" : String(value));
      if (key.startsWith("t_") && value !== null) {
        dd.append(text("span", ` +${((Number(value) - origin) / 1e6).toFixed(3)} ms`, "rel"));
      }
      item.append(dd);
      list.append(item);
    }
    box.replaceChildren(title, list);
  }

  /** The result's lock-wait histogram, drawn as the API gives it: one bar per bucket, its buyers as its height. */
  drawHistogram(result) {
    const chart = $(".timeline-chart", this.root);
    const lock = this.simulation.config.lock;
    const buckets = result.lock_wait_histogram || [];
    const waited = buckets.reduce((sum, b) => sum + b.buyers, 0);
    const gaveUp = buckets.reduce((sum, b) => sum + b.gave_up, 0);
    $(".timeline-title", this.root).textContent = "Lock waits";
    const big = `${plural(result.buyers_total, "buyer")} are more than the ${TIMELINE_MAX_ROWS} rows a timeline draws`;
    const note = $(".timeline-note", this.root);
    if (!buckets.length) {
      note.textContent =
        lock === "none"
          ? `${big}. Without a lock nobody waits for one, so there are no lock waits to show (0 ms on the card): ` +
            "every buyer raced for the count at once."
          : `${big}. No buyer waited for the lock, so there are no lock waits to show.`;
      chart.replaceChildren();
      this.drawLegend(false);
      return;
    }
    note.textContent =
      `${big}, so this shows how long ${plural(waited, "buyer")} waited for the lock` +
      (gaveUp ? `; ${plural(gaveUp, "buyer")} gave up waiting (cross-hatched).` : ".");
    const most = buckets[buckets.length - 1].to_ms;
    const peak = Math.max(1, ...buckets.map((b) => b.buyers));

    const width = Math.max(280, Math.floor(chart.clientWidth || 320));
    const left = 8;
    const top = 16;
    const plotH = 140;
    const height = top + plotH + 34;
    const plotW = width - left * 2;
    const barW = plotW / buckets.length;
    const svg = svgEl("svg", {
      width,
      height,
      viewBox: `0 0 ${width} ${height}`,
      class: "histogram-svg",
      role: "img",
      "aria-label": `Histogram of ${plural(waited, "lock wait")}, from 0 to ${formatTick(most)} ms`,
    });
    svg.append(patterns(`tr-${this.id}`));
    buckets.forEach((bucket, i) => {
      const h = (bucket.buyers / peak) * plotH;
      const quit = (bucket.gave_up / peak) * plotH;
      const bx = left + i * barW;
      const g = svgEl("g", {
        class: "hist-bucket",
        "data-from-ms": bucket.from_ms,
        "data-to-ms": bucket.to_ms,
        "data-buyers": bucket.buyers,
        "data-gave-up": bucket.gave_up,
      });
      const bar = { x: bx + 1, width: Math.max(1, barW - 2), class: "hist-bar" };
      g.append(svgEl("rect", { ...bar, y: top + plotH - h, height: h - quit }));
      if (quit > 0) {
        g.append(svgEl("rect", { ...bar, y: top + plotH - quit, height: quit, class: "hist-bar gaveup",
          style: `fill: url(#tr-${this.id}-error)` }));
      }
      const title = svgEl("title", {});
      const range = `${formatTick(bucket.from_ms)}\u2013${formatTick(bucket.to_ms)} ms`;
      title.textContent = `${plural(bucket.buyers, "buyer")} waited ${range}` +
        (bucket.gave_up ? `, ${bucket.gave_up} of them then gave up` : "");
      g.append(title);
      svg.append(g);
      if (bucket.buyers && barW >= 14) {
        svg.append(svgText(String(bucket.buyers), bx + barW / 2, top + plotH - h - 3, "hist-count middle"));
      }
    });
    svg.append(svgEl("line", { x1: left, x2: width - left, y1: top + plotH, y2: top + plotH, class: "axis" }));
    for (const tick of most > 0 ? niceTicks(most, Math.max(2, Math.floor(plotW / 80))) : [0]) {
      const tx = left + (most > 0 ? tick / most : 0) * plotW;
      const anchor = tick === 0 ? "start" : tx > width - left - 20 ? "end" : "middle";
      svg.append(svgEl("line", { x1: tx, x2: tx, y1: top + plotH, y2: top + plotH + 4, class: "axis" }));
      svg.append(svgText(`${formatTick(tick)}${tick === 0 ? " ms" : ""}`, tx, top + plotH + 16, `axis-label ${anchor}`));
    }
    svg.append(svgText("time waiting for the lock \u2192 (bar height: number of buyers)", width / 2, top + plotH + 30, "axis-label middle"));
    chart.replaceChildren(svg);
    this.drawLegend(false);
  }

  drawLegend(timeline) {
    const legend = $(".legend", this.root);
    legend.replaceChildren();
    if (!timeline) return;
    const items = [
      ["think", "Think: looking at the count (thin bar)"],
      ["wait", "Waiting for the lock (hatched)"],
      ["critical", `Read to write, ${OUTCOME_MARK.success} got a ticket (solid)`],
      ["soldout", `${OUTCOME_MARK.sold_out} Found it sold out (outlined tick)`],
      ["gaveup", `${OUTCOME_MARK.gave_up} Gave up waiting for the lock (hatched, outlined)`],
      ["error", `${OUTCOME_MARK.error} Failed (cross-hatched)`],
    ];
    for (const [kind, label] of items) {
      const li = text("li");
      const swatch = svgEl("svg", { width: 22, height: 12, class: "swatch", "aria-hidden": "true" });
      swatch.append(patterns(`tr-${this.id}-legend-${kind}`));
      const attrs = { x: 1, y: 1, width: 20, height: 10, class: `bar ${kind}` };
      if (kind === "think") Object.assign(attrs, { y: 4, height: 4 });
      if (kind === "soldout") Object.assign(attrs, { x: 9, width: 4 });
      if (kind === "wait" || kind === "error") attrs.style = `fill: url(#tr-${this.id}-legend-${kind}-${kind})`;
      if (kind === "gaveup") {
        attrs.class = "bar wait gaveup";
        attrs.style = `fill: url(#tr-${this.id}-legend-${kind}-wait)`;
      }
      swatch.append(svgEl("rect", attrs));
      li.append(swatch, text("span", label));
      legend.append(li);
    }
  }
}

/* ---------- SVG helpers ---------- */

/** One tab stop for the whole timeline; the arrow keys, Home and End move between its rows. */
function moveFocus(event, svg) {
  const rows = [...svg.querySelectorAll(".row")];
  const at = rows.indexOf(document.activeElement);
  if (at < 0) return;
  const step = { ArrowDown: 1, ArrowUp: -1, PageDown: 10, PageUp: -10 }[event.key];
  let next = at;
  if (step) next = Math.min(rows.length - 1, Math.max(0, at + step));
  else if (event.key === "Home") next = 0;
  else if (event.key === "End") next = rows.length - 1;
  else return;
  event.preventDefault();
  rows[at].setAttribute("tabindex", "-1");
  rows[next].setAttribute("tabindex", "0");
  rows[next].focus();
}

function svgEl(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function svgText(content, x, y, className) {
  const el = svgEl("text", { x, y, class: className });
  el.textContent = content;
  return el;
}

/** Hatches that tell the bars apart without color. */
function patterns(prefix) {
  const defs = svgEl("defs", {});
  const wait = svgEl("pattern", {
    id: `${prefix}-wait`,
    width: 6,
    height: 6,
    patternUnits: "userSpaceOnUse",
    patternTransform: "rotate(45)",
  });
  wait.append(svgEl("rect", { width: 6, height: 6, class: "hatch-bg wait-bg" }));
  wait.append(svgEl("line", { x1: 1.5, y1: 0, x2: 1.5, y2: 6, class: "hatch wait-line" }));
  const error = svgEl("pattern", { id: `${prefix}-error`, width: 6, height: 6, patternUnits: "userSpaceOnUse" });
  error.append(svgEl("rect", { width: 6, height: 6, class: "hatch-bg error-bg" }));
  error.append(svgEl("path", { d: "M0,0 L6,6 M6,0 L0,6", class: "hatch error-line" }));
  defs.append(wait, error);
  return defs;
}

function niceTicks(span, count) {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = 0; t <= span + step * 1e-9; t += step) ticks.push(t);
  return ticks;
}

function formatTick(ms) {
  if (ms === 0) return "0";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1).replace(/\.0$/, "");
  return ms.toFixed(2).replace(/\.?0+$/, "");
}

function capitalize(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}

/* ---------- past simulations ---------- */

const historyList = { offset: 0, loading: false, again: false };

async function refreshHistory() {
  if (historyList.loading) {
    historyList.again = true;
    return;
  }
  historyList.offset = 0;
  await loadHistory(false);
  if (historyList.again) {
    historyList.again = false;
    await refreshHistory();
  }
}

async function loadHistory(append) {
  if (historyList.loading) return;
  historyList.loading = true;
  const tbody = $("#history tbody");
  const note = $("#history-note");
  try {
    const page = await api("GET", `/simulations?offset=${historyList.offset}&limit=${HISTORY_PAGE}`);
    if (!append) tbody.replaceChildren();
    for (const s of page.data) tbody.append(historyRow(s));
    historyList.offset += page.data.length;
    note.textContent = page.count
      ? `${historyList.offset} of ${page.count} shown, newest first.`
      : "None yet: your runs will be listed here.";
    $("#history-more").hidden = historyList.offset >= page.count;
  } catch (err) {
    note.textContent = `The list could not be loaded: ${err.message}`;
  } finally {
    historyList.loading = false;
  }
}

function historyRow(s) {
  const config = s.config || {};
  const tr = text("tr");
  tr.dataset.id = s.id;
  const when = text("td");
  const link = text("a", s.started_at ? formatWhen(s.started_at) : s.status === "queued" ? "not yet" : "never");
  link.href = urlFor([s.id]);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    showSimulations([s.id], { push: true });
  });
  when.append(link);
  tr.append(when, text("td", config.lock), text("td", `${config.buyers} / ${config.tickets}`, "num"), resultCell(s));
  return tr;
}

/** Completed: the API's verdict and counts; otherwise the status. */
function resultCell(s) {
  const cell = text("td");
  const r = s.result;
  if (s.status === "completed" && r) {
    const label = r.safe ? "\u2713 safe" : `\u26A0 ${r.oversold} oversold, ${r.lost_updates} lost`;
    const span = text("span", label, r.safe ? "safe-text" : "alarm-text");
    span.dataset.field = "oversold";
    span.dataset.value = String(r.oversold);
    cell.append(span);
  } else {
    const chip = text("span", s.status, "status-chip");
    chip.dataset.status = s.status;
    cell.append(chip);
  }
  return cell;
}

function formatWhen(iso) {
  if (!iso) return "?";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString(undefined, { timeStyle: "medium" })
    : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}

/* ---------- start ---------- */

function start() {
  $("#config").addEventListener("submit", runOne);
  $("#compare").addEventListener("click", runCompare);
  $("#history-refresh").addEventListener("click", refreshHistory);
  $("#history-more").addEventListener("click", () => loadHistory(true));
  window.addEventListener("popstate", () => showSimulations(idsFromLocation()));
  let pending = 0;
  window.addEventListener("resize", () => {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(() => view.cards.forEach((card) => card.redraw()));
  });
  const ids = idsFromLocation();
  if (ids.length) {
    showSimulations(ids);
    $("#results").scrollIntoView({ block: "start" });
  }
  refreshHistory();
}

start();
