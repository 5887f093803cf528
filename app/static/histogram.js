/* A big run's lock waits: the result's histogram, drawn as the API gives it (one bar per bucket, its buyers as
 * its height), instead of a timeline of more rows than a page can show. */

import { $, svgEl, svgText } from "./dom.js";
import { formatTick } from "./format.js";
import { num, t } from "./i18n.js";
import { niceTicks, patterns } from "./chart.js";
import { waitFor } from "./terms.js";

/** Why there is no lock wait to draw, in this run's terms. */
function noWaits(config, result) {
  if (config.strategy === "seller") {
    return t("histogram.none.seller", { p50: result.queue_wait_p50_ms, p95: result.queue_wait_p95_ms });
  }
  if (config.strategy === "optimistic") return t("histogram.none.optimistic", { n: result.retries });
  if (!waitFor(config)) return t("histogram.none.no_lock");
  return t("histogram.none");
}

export function drawHistogram({ root, id, simulation, rowLimit }) {
  const result = simulation.result;
  const chart = $(".timeline-chart", root);
  const buckets = result.lock_wait_histogram || [];
  const waited = buckets.reduce((sum, b) => sum + b.buyers, 0);
  const gaveUp = buckets.reduce((sum, b) => sum + b.gave_up, 0);
  $(".timeline-title", root).textContent = t(buckets.length ? "histogram.title" : "histogram.title.none");
  const big = t("histogram.big", { n: result.buyers_total, rows: rowLimit });
  const note = $(".timeline-note", root);
  if (!buckets.length) {
    note.textContent = t("histogram.big.none", { big, why: noWaits(simulation.config, result) });
    chart.replaceChildren();
    return;
  }
  note.textContent = t("histogram.note", { big, n: waited }) +
    (gaveUp ? t("histogram.note.gave_up", { n: gaveUp }) : t("histogram.note.end"));
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
    "aria-label": t("histogram.aria", { n: waited, most: formatTick(most) }),
  });
  svg.append(patterns(`tr-${id}`));
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
        style: `fill: url(#tr-${id}-error)` }));
    }
    const title = svgEl("title", {});
    const range = t("unit.ms", { n: `${formatTick(bucket.from_ms)}\u2013${formatTick(bucket.to_ms)}` });
    title.textContent = t("histogram.bucket", { n: bucket.buyers, range }) +
      (bucket.gave_up ? t("histogram.bucket.gave_up", { n: bucket.gave_up }) : "");
    g.append(title);
    svg.append(g);
    if (bucket.buyers && barW >= 14) {
      svg.append(svgText(num(bucket.buyers), bx + barW / 2, top + plotH - h - 3, "hist-count middle"));
    }
  });
  svg.append(svgEl("line", { x1: left, x2: width - left, y1: top + plotH, y2: top + plotH, class: "axis" }));
  for (const tick of most > 0 ? niceTicks(most, Math.max(2, Math.floor(plotW / 80))) : [0]) {
    const tx = left + (most > 0 ? tick / most : 0) * plotW;
    const anchor = tick === 0 ? "start" : tx > width - left - 20 ? "end" : "middle";
    svg.append(svgEl("line", { x1: tx, x2: tx, y1: top + plotH, y2: top + plotH + 4, class: "axis" }));
    const label = tick === 0 ? t("unit.ms", { n: 0 }) : formatTick(tick);
    svg.append(svgText(label, tx, top + plotH + 16, `axis-label ${anchor}`));
  }
  svg.append(svgText(t("histogram.axis"), width / 2, top + plotH + 30, "axis-label middle"));
  chart.replaceChildren(svg);
}
