/* The timeline: one row per buyer (think, wait, read to write, retries), on a time axis from the run's start.
 *
 * In a comparison every card draws on one shared axis, the longest run's span, each from its own run's start,
 * so the runs compare at a glance; `spanOf` gives a run's own span for the view to choose that axis. */

import { $, svgEl, svgText, text } from "./dom.js";
import { capitalize, formatTick, plural } from "./format.js";
import { moveFocus, niceTicks, patterns } from "./chart.js";
import { OUTCOME_MARK, RETRY_MARK, outcomeText, timelineStory, waitFor } from "./terms.js";

const TIMESTAMPS = ["t_start", "t_searched", "t_lock_requested", "t_lock_acquired", "t_read", "t_write", "t_end"];

/** The run's first timestamp (its origin) and how long it lasted from there to its last, in ms. */
export function spanOf(records) {
  let first = Infinity;
  let last = -Infinity;
  for (const r of records) {
    for (const key of TIMESTAMPS) {
      if (r[key] === null || r[key] === undefined) continue;
      const t = Number(r[key]);
      if (t < first) first = t;
      if (t > last) last = t;
    }
  }
  if (first === Infinity) return { origin: 0, spanMs: 1 };
  return { origin: first, spanMs: Math.max(1e-3, (last - first) / 1e6) };
}

/** Draw `records` of `simulation` into the card `root`; `axisMs` (a comparison's shared axis) or the run's own. */
export function drawTimeline({ root, id, simulation, records, axisMs }) {
  const config = simulation.config;
  const chart = $(".timeline-chart", root);
  const wait = waitFor(config);
  const { origin, spanMs } = spanOf(records);
  const axis = Math.max(spanMs, axisMs || 0);
  const shared = axisMs !== null && axisMs !== undefined;
  $(".timeline-title", root).textContent = `Timeline: ${plural(records.length, "buyer")}`;
  $(".timeline-note", root).textContent =
    "One row per buyer, in the order they read the count. " +
    timelineStory(config, simulation.result) +
    (shared
      ? ` Every run of this comparison is drawn on one time axis, 0 to ${formatTick(axis)} ms (the longest run),` +
        ` each from its own start; this one lasted ${formatTick(spanMs)} ms` +
        (spanMs < axis ? " (dashed line)." : ".")
      : "") +
    " Hover, tap or focus a row (arrow keys move between rows) to see that buyer's record.";

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
  const x = (t) => left + (t / axis) * plotW;

  const svg = svgEl("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "timeline-svg",
    role: "group",
    "data-axis-ms": axis,
    "data-span-ms": spanMs,
    "aria-label": `Timeline of ${plural(ordered.length, "buyer")} over ${spanMs.toFixed(1)} ms` +
      (shared ? `, on an axis of ${axis.toFixed(1)} ms` : ""),
  });
  svg.append(patterns(`tr-${id}`));

  const ticks = niceTicks(axis, Math.max(2, Math.floor(plotW / 70)));
  for (const tick of ticks) {
    const tx = x(tick);
    svg.append(svgEl("line", { x1: tx, x2: tx, y1: top - 4, y2: height - 6, class: "grid" }));
    const anchor = tick === 0 ? "start" : "middle";
    svg.append(svgText(`${formatTick(tick)}${tick === 0 ? " ms" : ""}`, tx, top - 8, `axis-label ${anchor}`));
  }
  if (x(axis) - x(ticks[ticks.length - 1]) >= 36) {
    svg.append(svgText(formatTick(axis), x(axis), top - 8, "axis-label axis-end end"));
  }
  if (spanMs < axis) {
    const ex = x(spanMs);
    svg.append(svgEl("line", { x1: ex, x2: ex, y1: top - 4, y2: height - 6, class: "run-end" }));
  }

  const pid = (name) => `url(#tr-${id}-${name})`;
  ordered.forEach((r, i) => {
    const y = top + i * rowH;
    const retries = Number(r.retries) || 0;
    const said = outcomeText(r.outcome, config) + (retries ? ` after ${plural(retries, "refused write")}` : "");
    const g = svgEl("g", {
      class: `row outcome-${r.outcome}`,
      tabindex: i === 0 ? 0 : -1,
      role: "button",
      "data-buyer": r.buyer,
      "data-retries": retries,
      "aria-label": `Buyer ${r.buyer} ${said}`,
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
    const waitClass = wait ? `bar wait ${wait.kind}` : "bar wait";
    span(r.t_start, r.t_searched, "bar think", null, true);
    if (wait) span(r.t_lock_requested, r.t_lock_acquired, waitClass, pid("wait"));
    if (r.outcome === "gave_up" && r.t_lock_requested !== null) {
      span(r.t_lock_requested, r.t_end, `${waitClass} gaveup`, pid("wait"));
    }
    if (retries) span(r.t_searched, r.outcome === "gave_up" ? r.t_end : r.t_read, "bar retried", null);
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
      if (retries) {
        const after = ms(r.t_write ?? r.t_end);
        const rx = after === null ? left : Math.min(x(after) + 4, width - right - 2);
        const anchor = rx >= width - right - 30 ? "end" : "start";
        g.append(svgText(`${RETRY_MARK}${retries}`, anchor === "end" ? width - right - 2 : rx, y + rowH / 2 + 4,
          `retry-count ${anchor}`));
      }
    }
    const title = svgEl("title", {});
    title.textContent = `Buyer ${r.buyer}: ${said}`;
    g.append(title);
    const show = () => showRecord(root, r, origin, g, config);
    g.addEventListener("mouseenter", show);
    g.addEventListener("focus", show);
    g.addEventListener("click", show);
    svg.append(g);
  });
  svg.addEventListener("keydown", (event) => moveFocus(event, svg));
  chart.replaceChildren(svg);
  drawLegend(root, id, config, records);
}

function showRecord(root, record, origin, row, config) {
  for (const el of root.querySelectorAll(".row.selected")) el.classList.remove("selected");
  row.classList.add("selected");
  const box = $(".record", root);
  const title = text("h5", `Buyer ${record.buyer}: ${outcomeText(record.outcome, config)}`);
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

/** The legend of what this run's timeline draws: only the marks a cure of its kind can make. */
export function drawLegend(root, id, config, records) {
  const legend = $(".legend", root);
  legend.replaceChildren();
  if (!records) return;
  const wait = waitFor(config);
  const retried = config.strategy === "optimistic" || records.some((r) => Number(r.retries) > 0);
  const items = [["think", "Think: looking at the count (thin bar)"]];
  if (wait) {
    items.push([wait.kind === "queue" ? "queue" : "wait", `Waiting ${wait.what} (hatched)`]);
  }
  if (retried) items.push(["retried", `Refused writes, read again (dashed; ${RETRY_MARK} how many)`]);
  items.push(
    [
      "critical",
      config.strategy === "seller"
        ? `The seller's read to write, ${OUTCOME_MARK.success} got a ticket (solid)`
        : `Read to write, ${OUTCOME_MARK.success} got a ticket (solid)`,
    ],
    ["soldout", `${OUTCOME_MARK.sold_out} Found it sold out (outlined tick)`],
  );
  if (wait || retried) items.push(["gaveup", `${OUTCOME_MARK.gave_up} ${capitalize(outcomeText("gave_up", config))}` +
    (wait ? " (hatched, outlined)" : "")]);
  items.push(["error", `${OUTCOME_MARK.error} Failed (cross-hatched)`]);
  for (const [kind, label] of items) {
    const li = text("li");
    li.dataset.kind = kind;
    const swatch = svgEl("svg", { width: 22, height: 12, class: "swatch", "aria-hidden": "true" });
    const prefix = `tr-${id}-legend-${kind}`;
    swatch.append(patterns(prefix));
    const attrs = { x: 1, y: 1, width: 20, height: 10, class: `bar ${kind}` };
    if (kind === "think") Object.assign(attrs, { y: 4, height: 4 });
    if (kind === "soldout") Object.assign(attrs, { x: 9, width: 4 });
    if (kind === "wait" || kind === "queue") Object.assign(attrs, { class: `bar wait ${kind}`, style: `fill: url(#${prefix}-wait)` });
    if (kind === "error") attrs.style = `fill: url(#${prefix}-error)`;
    if (kind === "gaveup") {
      attrs.class = wait ? "bar wait gaveup" : "bar retried gaveup";
      if (wait) attrs.style = `fill: url(#${prefix}-wait)`;
    }
    swatch.append(svgEl("rect", attrs));
    li.append(swatch, text("span", label));
    legend.append(li);
  }
}
