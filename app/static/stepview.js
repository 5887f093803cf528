/* A race's state between steps, as the API's model tells it (GET /simulations/{id}/replay, POST .../step): the
 * db's count, who holds the lock, each buyer's part, and the steps so far drawn one column each, with the count
 * after every step above them. Step mode (steps.js) and the replay slider (replay.js) both draw it. */

import { $, svgEl, svgText, text } from "./dom.js";
import { listed, t } from "./i18n.js";
import { lockName, stepName } from "./terms.js";

const ROW_H = 18;
const COUNT_H = 36;

/** The count and the lock, in words, into `box` (.step-count, .step-lock). */
export function drawCountAndLock(box, state, config) {
  const count = $(".step-count", box);
  count.dataset.count = String(state.count);
  count.textContent = t("state.count", { n: state.count });
  const lock = $(".step-lock", box);
  lock.dataset.holders = state.lock_holders.join(",");
  const holders = listed(state.lock_holders.map((b) => t("state.buyer", { buyer: b })));
  const n = state.lock_holders.length;
  if (!config.lock || config.lock === "none") lock.textContent = t("state.no_lock");
  else if (config.lock === "semaphore") {
    lock.textContent = n ? t("state.permits_held", { holders, n, permits: config.permits }) :
      t("state.permits_free", { n: config.permits });
  } else if (!n) lock.textContent = t("state.lock_free", { lock: lockName(config.lock) });
  else lock.textContent = t("state.lock_held", { lock: lockName(config.lock), holders });
}

/** What a buyer stands at: "next: read · saw 1, read 1", or its outcome once its visit is over. */
export function buyerState(b) {
  const known = [];
  if (b.seen !== null) known.push(t("state.saw", { n: b.seen }));
  if (b.read !== null) known.push(t("state.read", { n: b.read }));
  if (b.wrote !== null) known.push(t("state.wrote", { n: b.wrote }));
  const where = b.outcome ? t(`state.outcome.${b.outcome}`) : t("state.next", { step: stepName(b.next_step) });
  return known.length ? t("state.with", { where, known: known.join(t("list.sep")) }) : where;
}

/** Every buyer as a list item (the replay's; step mode draws buttons instead). */
export function drawBuyers(list, state) {
  list.replaceChildren(
    ...state.buyers.map((b) => {
      const item = text("li", null, "step-buyer");
      item.dataset.buyer = String(b.buyer);
      item.dataset.next = b.next_step || "";
      item.dataset.outcome = b.outcome || "";
      item.append(text("span", t("state.buyer_label", { buyer: b.buyer }), "who"), text("span", buyerState(b), "what"));
      if (b.waits_for) item.append(text("span", b.waits_for, "waits"));
      return item;
    }),
  );
}

/** One step in words: "buyer 1 reads: count 1". */
export function stepSentence(step) {
  return t(`taken.${step.step}`, { buyer: step.buyer, count: step.count }) +
    (step.outcome ? t(`taken.outcome.${step.outcome}`) : "");
}

/** The steps taken so far, one column each (of `columns`), a row per buyer, the count after each step above. */
export function drawSteps(chart, { taken, buyers, start, columns, cursor }) {
  const width = Math.max(280, Math.floor(chart.clientWidth || 320));
  const left = 64;
  const right = 34;
  const top = 14 + COUNT_H + 8;
  const cols = Math.max(1, columns, taken.length);
  const colW = (width - left - right) / cols;
  const height = top + buyers * ROW_H + 4;
  const x = (i) => left + i * colW;
  const svg = svgEl("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "steps-svg",
    role: "img",
    "aria-label": t("steps.aria", { n: taken.length, buyers }),
  });
  const highest = Math.max(1, start, ...taken.map((s) => s.count));
  const y = (count) => 14 + (1 - count / highest) * COUNT_H;
  for (let b = 1; b <= buyers; b += 1) {
    const ry = top + (b - 1) * ROW_H;
    svg.append(svgEl("rect", { x: left, y: ry, width: width - left - right, height: ROW_H, class: `steps-row${b % 2 ? " odd" : ""}` }));
    svg.append(svgText(t("state.buyer_label", { buyer: b }), left - 6, ry + ROW_H / 2 + 4, "row-label end"));
  }
  let d = `M${left},${y(start)}`;
  let before = start;
  const line = svgEl("g", { class: "count-line", "data-start": start, "data-final": taken.length ? taken[taken.length - 1].count : start });
  taken.forEach((step, i) => {
    d += ` H${x(i + 1)} V${y(step.count)}`;
    const kind = step.step !== "write" ? "" : step.count > before ? " pushed-up" : step.count === before ? " same" : "";
    const cell = svgEl("g", {
      class: `step-cell step-${step.step}${kind}${step.outcome ? ` outcome-${step.outcome}` : ""}`,
      "data-n": i + 1,
      "data-buyer": step.buyer,
      "data-step": step.step,
      "data-count": step.count,
    });
    const cy = top + (step.buyer - 1) * ROW_H;
    cell.append(svgEl("rect", { x: x(i) + 1, y: cy + 2, width: Math.max(2, colW - 2), height: ROW_H - 4, rx: 3 }));
    if (colW >= 12) cell.append(svgText(t(`step.short.${step.step}`), x(i) + colW / 2, cy + ROW_H / 2 + 4, "step-letter middle"));
    const title = svgEl("title", {});
    title.textContent = `${i + 1}. ${stepSentence(step)}`;
    cell.append(title);
    svg.append(cell);
    if (step.count !== before && colW >= 12) {
      line.append(svgText(String(step.count), x(i + 1) + 2, y(step.count) - 3, "count-text start"));
    }
    before = step.count;
  });
  d += ` H${x(cols)}`;
  line.prepend(svgEl("path", { d, class: "count-path" }));
  line.append(svgText(t("count.label", { n: start }), left - 6, y(start) + 4, "count-text end"));
  svg.append(line);
  if (cursor !== undefined && cursor !== null) {
    svg.append(svgEl("line", { x1: x(cursor), x2: x(cursor), y1: 10, y2: height - 2, class: "steps-cursor" }));
  }
  chart.replaceChildren(svg);
}
