/* The timeline: one row per buyer (think, wait, read to write, retries), on a time axis from the run's start,
 * with the db's count over time drawn above the rows and the first write marked on the axis.
 *
 * A sale's bar says whether it was the real sale of its count (the first to write it) or a sale from a stale
 * count (sales.js); a write that pushed the count back up is marked on its row and on the count line.
 *
 * In a comparison every card draws on one shared axis, the longest run's span, each from its own run's start,
 * so the runs compare at a glance; `spanOf` gives a run's own span for the view to choose that axis. */

import { $, svgEl, svgText, text } from "./dom.js";
import { formatTick, sinceStart } from "./format.js";
import { t } from "./i18n.js";
import { moveFocus, niceTicks, patterns } from "./chart.js";
import { salesOf } from "./sales.js";
import { OUTCOME_MARK, RETRY_MARK, STALE_MARK, outcomeText, timelineStory, waitFor } from "./terms.js";

const TIMESTAMPS = ["t_start", "t_searched", "t_lock_requested", "t_lock_acquired", "t_read", "t_write", "t_end"];
const AXIS_Y = 14;
const COUNT_TOP = 26;
const COUNT_H = 44;

/** The run's first timestamp (its origin) and how long it lasted from there to its last, in ms. */
export function spanOf(records) {
  let first = Infinity;
  let last = -Infinity;
  for (const r of records) {
    for (const key of TIMESTAMPS) {
      if (r[key] === null || r[key] === undefined) continue;
      const v = Number(r[key]);
      if (v < first) first = v;
      if (v > last) last = v;
    }
  }
  if (first === Infinity) return { origin: 0, spanMs: 1 };
  return { origin: first, spanMs: Math.max(1e-3, (last - first) / 1e6) };
}

/** What a buyer's row says: its outcome, and for a sale whether it was the real one of its count. */
function rowStory(r, role, config) {
  const retries = Number(r.retries) || 0;
  let said = outcomeText(r.outcome, config);
  if (role && role.role === "sale") said = t("sale.first", { wrote: role.wrote });
  if (role && role.role === "stale") said = t("sale.stale", { first: role.first, wrote: role.wrote });
  if (role && role.pushedUp) said += t("sale.pushed_up", { from: role.from, wrote: role.wrote });
  if (retries) said += t("row.after_retries", { n: retries });
  return said;
}

/** Draw `records` of `simulation` into the card `root`; `axisMs` (a comparison's shared axis) or the run's own. */
export function drawTimeline({ root, id, simulation, records, axisMs }) {
  const config = simulation.config;
  const result = simulation.result;
  const chart = $(".timeline-chart", root);
  const wait = waitFor(config);
  const { origin, spanMs } = spanOf(records);
  const axis = Math.max(spanMs, axisMs || 0);
  const shared = axisMs !== null && axisMs !== undefined;
  const ms = (v) => (v === null || v === undefined ? null : (Number(v) - origin) / 1e6);
  const initial = result ? result.tickets_initial : config.tickets;
  const sales = salesOf(records, initial, ms);
  const stale = [...sales.roles.values()].filter((role) => role.role === "stale").length;

  $(".timeline-title", root).textContent = t("timeline.title", { n: records.length });
  $(".timeline-note", root).textContent =
    t("timeline.intro") +
    timelineStory(config, result) +
    (stale ? t("timeline.stale", { n: stale }) : "") +
    (shared
      ? t("timeline.shared", { axis: formatTick(axis), span: formatTick(spanMs) }) +
        (spanMs < axis ? t("timeline.shared.shorter") : t("timeline.shared.longest"))
      : "") +
    t("timeline.hover");

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
  const top = COUNT_TOP + COUNT_H + 12;
  const plotW = width - left - right;
  const height = top + ordered.length * rowH + 6;
  const x = (v) => left + (v / axis) * plotW;

  const svg = svgEl("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "timeline-svg",
    role: "group",
    "data-axis-ms": axis,
    "data-span-ms": spanMs,
    "aria-label": t(shared ? "timeline.aria.shared" : "timeline.aria", {
      n: ordered.length,
      span: spanMs.toFixed(1),
      axis: axis.toFixed(1),
    }),
  });
  svg.append(patterns(`tr-${id}`));

  const ticks = niceTicks(axis, Math.max(2, Math.floor(plotW / 70)));
  for (const tick of ticks) {
    const tx = x(tick);
    svg.append(svgEl("line", { x1: tx, x2: tx, y1: AXIS_Y + 4, y2: height - 6, class: "grid" }));
    const anchor = tick === 0 ? "start" : "middle";
    svg.append(svgText(tick === 0 ? t("unit.ms", { n: 0 }) : formatTick(tick), tx, AXIS_Y, `axis-label ${anchor}`));
  }
  if (x(axis) - x(ticks[ticks.length - 1]) >= 36) {
    svg.append(svgText(formatTick(axis), x(axis), AXIS_Y, "axis-label axis-end end"));
  }
  if (spanMs < axis) {
    const ex = x(spanMs);
    svg.append(svgEl("line", { x1: ex, x2: ex, y1: AXIS_Y + 4, y2: height - 6, class: "run-end" }));
  }
  svg.append(countLine({ sales, x, left, right: left + plotW, width, spanMs }));
  if (sales.firstWrite) svg.append(firstWriteMark(sales.firstWrite, x(sales.firstWrite.ms), height));

  const pid = (name) => `url(#tr-${id}-${name})`;
  ordered.forEach((r, i) => {
    const y = top + i * rowH;
    const retries = Number(r.retries) || 0;
    const role = sales.roles.get(r.buyer);
    const said = rowStory(r, role, config);
    const g = svgEl("g", {
      class: `row outcome-${r.outcome}${role ? ` role-${role.role}` : ""}${role && role.pushedUp ? " pushed-up" : ""}`,
      tabindex: i === 0 ? 0 : -1,
      role: "button",
      "data-buyer": r.buyer,
      "data-retries": retries,
      "aria-label": t("row.aria", { buyer: r.buyer, said }),
    });
    if (role) g.dataset.role = role.role;
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
      span(r.t_read, r.t_write, role && role.role === "stale" ? "bar critical stale" : "bar critical", null);
      if (role && role.pushedUp && r.t_write !== null) {
        g.append(upArrow(x(ms(r.t_write)), barY, barH, "pushed-up-mark"));
      }
    } else if (r.outcome === "sold_out" && r.t_read !== null) {
      const cx = x(ms(r.t_read));
      g.append(svgEl("rect", { x: cx - 1, y: barY, width: Math.max(3, barH / 2), height: barH, class: "bar soldout" }));
    } else if (r.outcome === "error") {
      if (r.t_start !== null && r.t_end !== null) span(r.t_start, r.t_end, "bar error", pid("error"));
    }
    if (labelled) {
      g.append(svgText(String(r.buyer), left - 6, y + rowH / 2 + 4, "row-label end"));
      const mark = role && role.role === "stale" ? STALE_MARK : OUTCOME_MARK[r.outcome] || "?";
      g.append(svgText(mark, width - right + 6, y + rowH / 2 + 4, "row-mark start"));
      if (retries) {
        const after = ms(r.t_write ?? r.t_end);
        const rx = after === null ? left : Math.min(x(after) + 4, width - right - 2);
        const anchor = rx >= width - right - 30 ? "end" : "start";
        g.append(svgText(`${RETRY_MARK}${retries}`, anchor === "end" ? width - right - 2 : rx, y + rowH / 2 + 4,
          `retry-count ${anchor}`));
      }
    }
    const title = svgEl("title", {});
    title.textContent = t("row.title", { buyer: r.buyer, said }) + timesOf(r, ms);
    g.append(title);
    const show = () => showRecord(root, r, origin, g, said);
    g.addEventListener("mouseenter", show);
    g.addEventListener("focus", show);
    g.addEventListener("click", show);
    svg.append(g);
  });
  svg.addEventListener("keydown", (event) => moveFocus(event, svg));
  chart.replaceChildren(svg);
  drawLegend(root, id, config, records, sales);
}

/** "; read at +12.3 ms, wrote at +160.1 ms": a row's moments, from the run's start. */
function timesOf(r, ms) {
  const parts = [];
  if (r.t_read !== null && r.t_read !== undefined) parts.push(t("row.read_at", { at: sinceStart(ms(r.t_read)) }));
  if (r.t_write !== null && r.t_write !== undefined) parts.push(t("row.wrote_at", { at: sinceStart(ms(r.t_write)) }));
  return parts.length ? t("row.times", { times: parts.join(t("list.sep")) }) : "";
}

function upArrow(cx, y, h, cls) {
  const w = Math.max(4, h * 0.7);
  return svgEl("path", { d: `M${cx},${y} L${cx + w / 2},${y + h} L${cx - w / 2},${y + h} Z`, class: cls });
}

/** The db's count over time: from the tickets at the start, one step per write; a dot per write (red where it
 * sold from a stale count), an arrow where a write pushed the count back up. */
function countLine({ sales, x, left, right, width, spanMs }) {
  const g = svgEl("g", {
    class: "count-line",
    "data-start": sales.start,
    "data-final": sales.final,
    "data-writes": sales.points.length,
  });
  const highest = Math.max(1, sales.start, ...sales.points.map((p) => p.count));
  const y = (count) => COUNT_TOP + (1 - count / highest) * COUNT_H;
  g.append(svgEl("line", { x1: left, x2: right, y1: y(0), y2: y(0), class: "count-zero" }));
  let d = `M${left},${y(sales.start)}`;
  for (const p of sales.points) d += ` H${x(p.ms)} V${y(p.count)}`;
  d += ` H${x(spanMs)}`;
  g.append(svgEl("path", { d, class: "count-path" }));
  g.append(svgText(t("count.label", { n: sales.start }), left + 2, y(sales.start) + 11, "count-text start"));
  for (const p of sales.points) {
    const dot = svgEl("circle", {
      cx: x(p.ms),
      cy: y(p.count),
      r: 2.5,
      class: `count-write${p.stale ? " stale" : ""}${p.pushedUp ? " pushed-up" : ""}`,
      "data-buyer": p.buyer,
      "data-count": p.count,
    });
    const title = svgEl("title", {});
    title.textContent = p.pushedUp
      ? t("count.write.pushed_up", { buyer: p.buyer, from: p.from, wrote: p.count })
      : t("count.write", { buyer: p.buyer, wrote: p.count });
    dot.append(title);
    g.append(dot);
    if (p.pushedUp) g.append(upArrow(x(p.ms), y(p.count) - 12, 9, "pushed-up-mark"));
  }
  const endX = Math.min(x(spanMs) + 4, width - 4);
  const end = svgText(t("count.end", { n: sales.final }), endX, y(sales.final) + 4,
    endX > right - 40 ? "count-text count-end end" : "count-text count-end start");
  if (endX > right - 40) end.setAttribute("y", String(y(sales.final) - 4));
  g.append(end);
  return g;
}

/** The first write, marked on the axis and drawn down through the rows. */
function firstWriteMark(point, fx, height) {
  const g = svgEl("g", { class: "first-write", "data-buyer": point.buyer });
  g.append(svgEl("line", { x1: fx, x2: fx, y1: AXIS_Y + 4, y2: height - 6, class: "first-write-line" }));
  g.append(svgEl("path", { d: `M${fx - 4},${AXIS_Y - 8} L${fx + 4},${AXIS_Y - 8} L${fx},${AXIS_Y - 1} Z`,
    class: "first-write-tip" }));
  const label = svgText(t("axis.first_write", { buyer: point.buyer }), fx + 6, AXIS_Y + 12, "first-write-label start");
  g.append(label);
  const title = svgEl("title", {});
  title.textContent = t("axis.first_write.title", { buyer: point.buyer, wrote: point.count, at: sinceStart(point.ms) });
  g.append(title);
  return g;
}

function showRecord(root, record, origin, row, said) {
  for (const el of root.querySelectorAll(".row.selected")) el.classList.remove("selected");
  row.classList.add("selected");
  const box = $(".record", root);
  const title = text("h5", t("row.title", { buyer: record.buyer, said }));
  const list = text("dl", null, "record-fields");
  for (const [key, value] of Object.entries(record)) {
    const item = text("div");
    item.append(text("dt", key));
    const dd = text("dd", value === null ? "null" : String(value));
    if (key.startsWith("t_") && value !== null) {
      dd.append(text("span", ` ${sinceStart((Number(value) - origin) / 1e6)}`, "rel"));
    }
    item.append(dd);
    list.append(item);
  }
  box.replaceChildren(title, list);
}

/** The legend of what this run's timeline draws: only the marks a cure of its kind can make. */
export function drawLegend(root, id, config, records, sales) {
  const legend = $(".legend", root);
  legend.replaceChildren();
  if (!records) return;
  const wait = waitFor(config);
  const retried = config.strategy === "optimistic" || records.some((r) => Number(r.retries) > 0);
  const roles = sales ? [...sales.roles.values()] : [];
  const items = [["think", t("legend.think")]];
  if (wait) items.push([wait.kind === "queue" ? "queue" : "wait", t("legend.wait", { what: wait.what })]);
  if (retried) items.push(["retried", t("legend.retried", { mark: RETRY_MARK })]);
  items.push([
    "critical",
    t(config.strategy === "seller" ? "legend.critical.seller" : "legend.critical", { mark: OUTCOME_MARK.success }),
  ]);
  if (roles.some((role) => role.role === "stale")) items.push(["stale", t("legend.stale", { mark: STALE_MARK })]);
  items.push(["soldout", t("legend.soldout", { mark: OUTCOME_MARK.sold_out })]);
  if (wait || retried) {
    const what = outcomeText("gave_up", config);
    items.push(["gaveup", t(wait ? "legend.gaveup.wait" : "legend.gaveup", {
      mark: OUTCOME_MARK.gave_up,
      what: what.charAt(0).toUpperCase() + what.slice(1),
    })]);
  }
  items.push(["error", t("legend.error", { mark: OUTCOME_MARK.error })]);
  if (sales) {
    items.push(["count", t("legend.count")]);
    if (sales.firstWrite) items.push(["first-write", t("legend.first_write")]);
    if (roles.some((role) => role.pushedUp)) items.push(["pushed-up", t("legend.pushed_up")]);
  }
  for (const [kind, label] of items) {
    const li = text("li");
    li.dataset.kind = kind;
    li.append(swatch(id, kind, wait), text("span", label));
    legend.append(li);
  }
}

function swatch(id, kind, wait) {
  const box = svgEl("svg", { width: 22, height: 12, class: "swatch", "aria-hidden": "true" });
  const prefix = `tr-${id}-legend-${kind}`;
  box.append(patterns(prefix));
  if (kind === "count") {
    box.append(svgEl("path", { d: "M1,3 H9 V9 H21", class: "count-path" }));
    return box;
  }
  if (kind === "first-write") {
    box.append(svgEl("line", { x1: 11, x2: 11, y1: 0, y2: 12, class: "first-write-line" }));
    return box;
  }
  if (kind === "pushed-up") {
    box.append(upArrow(11, 1, 10, "pushed-up-mark"));
    return box;
  }
  const attrs = { x: 1, y: 1, width: 20, height: 10, class: `bar ${kind}` };
  if (kind === "think") Object.assign(attrs, { y: 4, height: 4 });
  if (kind === "stale") attrs.class = "bar critical stale";
  if (kind === "soldout") Object.assign(attrs, { x: 9, width: 4 });
  if (kind === "wait" || kind === "queue") Object.assign(attrs, { class: `bar wait ${kind}`, style: `fill: url(#${prefix}-wait)` });
  if (kind === "error") attrs.style = `fill: url(#${prefix}-error)`;
  if (kind === "gaveup") {
    attrs.class = wait ? "bar wait gaveup" : "bar retried gaveup";
    if (wait) attrs.style = `fill: url(#${prefix}-wait)`;
  }
  box.append(svgEl("rect", attrs));
  return box;
}
