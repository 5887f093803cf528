/* A big run's lock waits: the result's histogram, drawn as the API gives it (one bar per bucket, its buyers as
 * its height), instead of a timeline of more rows than a page can show. */

import { $, svgEl, svgText } from "./dom.js";
import { formatTick, plural } from "./format.js";
import { niceTicks, patterns } from "./chart.js";
import { waitFor } from "./terms.js";

/** Why there is no lock wait to draw, in this run's terms. */
function noWaits(config, result) {
  if (config.strategy === "seller") {
    return (
      "Buyers who ask a seller take no lock, so there are no lock waits to show; they wait in the seller's " +
      `queue instead, ${result.queue_wait_p50_ms} ms at the median and ${result.queue_wait_p95_ms} ms at p95 (on the card).`
    );
  }
  if (config.strategy === "optimistic") {
    return (
      "Optimistic buyers take no lock, so there are no lock waits to show: a buyer whose write was refused read " +
      `again instead (${plural(result.retries, "retry", "retries")} in all, on the card).`
    );
  }
  if (!waitFor(config)) {
    return (
      "Without a lock nobody waits for one, so there are no lock waits to show (0 ms on the card): every buyer " +
      "raced for the count at once."
    );
  }
  return "No buyer waited for the lock, so there are no lock waits to show.";
}

export function drawHistogram({ root, id, simulation, rowLimit }) {
  const result = simulation.result;
  const chart = $(".timeline-chart", root);
  const buckets = result.lock_wait_histogram || [];
  const waited = buckets.reduce((sum, b) => sum + b.buyers, 0);
  const gaveUp = buckets.reduce((sum, b) => sum + b.gave_up, 0);
  $(".timeline-title", root).textContent = buckets.length ? "Lock waits" : "Lock waits: none";
  const big = `${plural(result.buyers_total, "buyer")} are more than the ${rowLimit} rows a timeline draws`;
  const note = $(".timeline-note", root);
  if (!buckets.length) {
    note.textContent = `${big}. ${noWaits(simulation.config, result)}`;
    chart.replaceChildren();
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
  svg.append(svgText("time waiting for the lock \u2192 (bar height: number of buyers)", width / 2, top + plotH + 30,
    "axis-label middle"));
  chart.replaceChildren(svg);
}
