/* A finished comparison of cures as bars: one per cure, its height the run's sales per second as the API gives it,
 * and a mark on every cure that oversold (how many seats, from its result). Plain SVG, like the histogram. */

import { $, svgEl, svgText } from "./dom.js";
import { num, t } from "./i18n.js";
import { niceTicks } from "./chart.js";

let shownRuns = null; // [{cure, simulation}] of the comparison drawn, to draw again when the width changes

export function hideCureBars() {
  shownRuns = null;
  const figure = $("#cure-bars");
  figure.hidden = true;
  $(".cure-bars-chart", figure).replaceChildren();
}

/** `runs`: [{cure, simulation}], each simulation finished with its result. */
export function drawCureBars(runs) {
  shownRuns = runs.filter((run) => run.simulation && run.simulation.result);
  const figure = $("#cure-bars");
  figure.hidden = !shownRuns.length;
  if (shownRuns.length) draw($(".cure-bars-chart", figure), shownRuns);
}

export function redrawCureBars() {
  if (shownRuns) drawCureBars(shownRuns);
}

function draw(chart, runs) {
  const width = Math.max(280, Math.floor(chart.clientWidth || 320));
  const left = 48;
  const right = 8;
  const top = 22;
  const plotH = 160;
  const labelH = 40;
  const height = top + plotH + labelH;
  const plotW = width - left - right;
  const peak = Math.max(...runs.map((run) => run.simulation.result.sales_per_second));
  const ticks = peak > 0 ? niceTicks(peak, 4) : [0];
  const scale = Math.max(peak, ticks[ticks.length - 1]) || 1;
  const oversold = runs.filter((run) => run.simulation.result.oversold > 0).length;
  const svg = svgEl("svg", {
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    class: "cure-bars-svg",
    role: "img",
    "aria-label": t("curebars.aria", { n: runs.length, oversold }),
  });
  const y = (value) => top + plotH - (value / scale) * plotH;
  for (const tick of ticks) {
    svg.append(svgEl("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick), class: "grid" }));
    svg.append(svgText(num(tick), left - 4, y(tick) + 4, "axis-label end"));
  }
  const slot = plotW / runs.length;
  const barW = Math.min(64, slot * 0.6);
  runs.forEach(({ cure, simulation }, i) => {
    const result = simulation.result;
    const cx = left + slot * (i + 0.5);
    const g = svgEl("g", {
      class: result.oversold > 0 ? "cure-bar oversold" : "cure-bar",
      "data-cure": cure.name,
      "data-id": simulation.id,
      "data-sales-per-second": result.sales_per_second,
      "data-oversold": result.oversold,
    });
    const barTop = y(result.sales_per_second);
    g.append(svgEl("rect", { x: cx - barW / 2, y: barTop, width: barW, height: top + plotH - barTop, class: "bar" }));
    g.append(svgText(num(result.sales_per_second), cx, barTop - 4, "bar-value middle"));
    if (result.oversold > 0) {
      g.append(svgText(t("curebars.oversold", { n: result.oversold }), cx, top + plotH - 6, "oversold-mark middle"));
    }
    g.append(svgText(cure.name, cx, top + plotH + 16, "axis-label middle"));
    const title = svgEl("title", {});
    title.textContent = t(result.oversold > 0 ? "curebars.bar.oversold" : "curebars.bar", {
      cure: cure.name,
      rate: result.sales_per_second,
      n: result.oversold,
    });
    g.append(title);
    svg.append(g);
  });
  svg.append(svgEl("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH, class: "axis" }));
  svg.append(svgText(t("curebars.axis"), left, 12, "axis-label start"));
  chart.replaceChildren(svg);
}
