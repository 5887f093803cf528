/* What the timeline and the histogram share: hatches, axis ticks, keyboard moves between rows. */

import { svgEl } from "./dom.js";

/** Hatches that tell the bars apart without color. */
export function patterns(prefix) {
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

/** Round ticks from 0 to at most `span`, about `count` of them. */
export function niceTicks(span, count) {
  const raw = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = 0; t <= span + step * 1e-9; t += step) ticks.push(t);
  return ticks;
}

/** One tab stop for the whole timeline; the arrow keys, Home and End move between its rows. */
export function moveFocus(event, svg) {
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
