// The experiment page: GET /experiments/{id}, polled until it has finished, drawn with uPlot (vendored under
// /static/vendor/uplot). Every number drawn comes from the API's points as they are; this module only lays them
// out: a line of the median with the min-max band for oversold and for sales per second, the histogram of one
// value's trials, and the same numbers as a table. Each chart downloads as a PNG drawn from its own canvas.

import uPlot from "/static/vendor/uplot/uPlot.esm.js";

const POLL_MS = 1000;
const HEIGHT = 280;
const FINISHED = new Set(["completed", "failed", "cancelled", "interrupted"]);
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif';

const $ = (selector, root = document) => root.querySelector(selector);
const charts = {}; // name -> uPlot instance (also on its container element, as `.uplot`)
const legends = {}; // name -> [{label, color, kind}] for the PNG
let experiment = null;

function experimentId() {
  const match = location.pathname.match(/^\/experiments\/([^/]+)\/view\/?$/);
  return match ? decodeURIComponent(match[1]) : new URLSearchParams(location.search).get("id");
}

function cssColor(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function withAlpha(color, alpha) {
  const hex = color.replace("#", "");
  if (!/^[0-9a-f]{6}$/i.test(hex)) return color;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

function shown(number) {
  if (number === null || number === undefined) return "–";
  return Number.isInteger(number) ? number.toLocaleString("en") : Number(number.toFixed(2)).toLocaleString("en");
}

function plural(n, word) {
  return `${n.toLocaleString("en")} ${n === 1 ? word : `${word}s`}`;
}

// -- the x axis: the values themselves when all are numbers (sorted), else one place per value in their order --

export function axisOf(points, evenly = false) {
  const numeric = !evenly && points.every((p) => typeof p.value === "number");
  const order = points.map((_, i) => i);
  if (points.every((p) => typeof p.value === "number")) order.sort((a, b) => points[a].value - points[b].value);
  return {
    numeric,
    order,
    xs: order.map((i, place) => (numeric ? points[i].value : place)),
    labels: order.map((i) => points[i].label),
  };
}

export function spreadData(points, axis, figure) {
  const pick = (part) => axis.order.map((i) => (points[i][figure] ? points[i][figure][part] : null));
  return [axis.xs, pick("max"), pick("median"), pick("min")];
}

export function histogramData(point) {
  const bars = point ? point.oversold_histogram : [];
  return [bars.map((b) => b.oversold), bars.map((b) => b.trials)];
}

function axisStyle(label) {
  const ink = cssColor("--muted");
  const line = cssColor("--line");
  return { label, stroke: ink, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 }, font: `12px ${FONT}`, labelFont: `bold 12px ${FONT}` };
}

function xAxis(field, axis) {
  const style = axisStyle(field);
  if (axis.numeric) return style;
  return { ...style, splits: () => axis.xs, values: (u, splits) => splits.map((x) => axis.labels[x] ?? "") };
}

function lineOptions(name, yLabel, color, axis, field, width) {
  const faint = withAlpha(color, 0.55);
  legends[name] = [
    { label: "median", color, kind: "line" },
    { label: "min to max", color: withAlpha(color, 0.18), kind: "band" },
  ];
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: false, range: axis.numeric ? undefined : () => [-0.5, axis.xs.length - 0.5] },
      y: { range: (u, min, max) => [0, max > 0 ? max * 1.12 : 1] },
    },
    series: [
      { label: field, value: (u, x) => (x === null ? "–" : axis.numeric ? shown(x) : axis.labels[x]) },
      { label: "max", stroke: faint, width: 1, dash: [4, 4], points: { show: false }, value: (u, v) => shown(v) },
      { label: "median", stroke: color, width: 2.5, points: { show: true, size: 8, fill: color, stroke: color }, value: (u, v) => shown(v) },
      { label: "min", stroke: faint, width: 1, dash: [4, 4], points: { show: false }, value: (u, v) => shown(v) },
    ],
    bands: [{ series: [1, 3], fill: withAlpha(color, 0.18) }],
    axes: [xAxis(field, axis), { ...axisStyle(yLabel), size: 60 }],
  };
}

function histogramOptions(color, width) {
  const integers = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];
  legends.histogram = [{ label: "trials", color: withAlpha(color, 0.7), kind: "band" }];
  return {
    width,
    height: HEIGHT,
    scales: {
      x: { time: false, range: (u) => [-0.5, Math.max(0, ...u.data[0]) + 0.5] }, // from 0 oversold up
      y: { range: (u, min, max) => [0, Math.max(max ?? 0, 1) * 1.15] },
    },
    series: [
      { label: "oversold", value: (u, v) => shown(v) },
      {
        label: "trials",
        stroke: color,
        fill: withAlpha(color, 0.7),
        width: 1,
        paths: uPlot.paths.bars({ size: [0.6, 80] }),
        points: { show: false },
        value: (u, v) => shown(v),
      },
    ],
    axes: [{ ...axisStyle("tickets oversold"), incrs: integers }, { ...axisStyle("trials"), incrs: integers, size: 50 }],
  };
}

function container(name) {
  return $(`[data-chart="${name}"] .chart`);
}

const observers = {};

function draw(name, options, data) {
  if (charts[name]) {
    charts[name].setData(data);
    return;
  }
  const element = container(name);
  const chart = new uPlot({ ...options, width: element.clientWidth || options.width }, data, element);
  charts[name] = chart;
  element.uplot = chart;
  observers[name]?.disconnect();
  observers[name] = new ResizeObserver(() => chart.setSize({ width: element.clientWidth, height: HEIGHT }));
  observers[name].observe(element);
}

// -- what the page shows ---------------------------------------------------------------------------------------

function describe(e) {
  const values = e.points.map((p) => p.label).join(", ");
  const rest = Object.entries(e.config).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("-") : v}`);
  return `Varies ${e.vary.field} over ${values}, with ${plural(e.trials, "trial")} of each, one run at a time; ` +
    `the rest as given: ${rest.join(", ") || "every default"} (defaults for anything not named).`;
}

function showHead(e) {
  document.title = `ticketrush: ${e.vary.field} experiment`;
  $("#experiment").dataset.status = e.status;
  $("#experiment-title").textContent = `Experiment: ${e.vary.field}, ${e.status}`;
  $("#experiment-summary").textContent = describe(e);
  $("#experiment-progress").max = e.progress.trials;
  $("#experiment-progress").value = e.progress.finished;
  $("#experiment-progress-text").textContent = `${e.progress.finished} of ${plural(e.progress.trials, "trial")} finished`;
  const error = $("#experiment-error");
  error.hidden = !e.error;
  error.textContent = e.error || "";
  $("#experiment-csv").href = `/experiments/${encodeURIComponent(e.id)}?format=csv`;
  $("#oversold-title").textContent = `Oversold by ${e.vary.field}`;
  $("#sales-title").textContent = `Sales per second by ${e.vary.field}`;
}

function showTable(e, axis) {
  const head = ["trials completed", "oversold min", "median", "max", "lost updates min", "median", "max", "sales/s min", "median", "max"];
  const headRow = document.createElement("tr");
  for (const words of [e.vary.field, ...head]) {
    const th = document.createElement("th");
    th.scope = "col";
    th.textContent = words;
    headRow.append(th);
  }
  $("#figures thead").replaceChildren(headRow);
  const rows = axis.order.map((i) => {
    const p = e.points[i];
    const tr = document.createElement("tr");
    tr.dataset.value = p.label;
    const cells = [p.label, `${p.completed} of ${p.trials.length}`];
    for (const figure of ["oversold", "lost_updates", "sales_per_second"]) {
      for (const part of ["min", "median", "max"]) cells.push(p[figure] ? shown(p[figure][part]) : "–");
    }
    cells.forEach((text, column) => {
      const cell = document.createElement(column === 0 ? "th" : "td");
      if (column === 0) cell.scope = "row";
      cell.textContent = text;
      tr.append(cell);
    });
    return tr;
  });
  $("#figures tbody").replaceChildren(...rows);
}

function showHistogramChoices(e, axis) {
  const select = $("#histogram-point");
  if (select.options.length === e.points.length) return;
  select.replaceChildren(
    ...axis.order.map((i) => {
      const option = document.createElement("option");
      option.value = String(i);
      option.textContent = `${e.vary.field} ${e.points[i].label}`;
      return option;
    }),
  );
  select.value = String(axis.order[axis.order.length - 1]);
}

function histogramPoint() {
  return experiment.points[Number($("#histogram-point").value)];
}

function evenly() {
  return $("#evenly").checked;
}

function redraw() {
  for (const name of Object.keys(charts)) {
    charts[name].destroy();
    delete charts[name];
  }
  show(experiment);
}

function show(e) {
  experiment = e;
  const numeric = e.points.every((p) => typeof p.value === "number");
  $("#evenly-choice").hidden = !numeric;
  const axis = axisOf(e.points, evenly());
  showHead(e);
  showTable(e, axis);
  showHistogramChoices(e, axis);
  const width = container("oversold").clientWidth || 480;
  draw("oversold", lineOptions("oversold", "tickets oversold", cssColor("--alarm"), axis, e.vary.field, width), spreadData(e.points, axis, "oversold"));
  draw("sales_per_second", lineOptions("sales_per_second", "sales per second", cssColor("--accent"), axis, e.vary.field, width), spreadData(e.points, axis, "sales_per_second"));
  draw("histogram", histogramOptions(cssColor("--wait"), width), histogramData(histogramPoint()));
}

// -- export: the chart's canvas, with its title and legend, as a PNG --------------------------------------------

export function chartPng(name) {
  const chart = charts[name];
  const panel = $(`[data-chart="${name}"]`);
  const plot = chart.ctx.canvas;
  const ratio = plot.width / chart.width;
  const pad = 14 * ratio;
  const titleHeight = 44 * ratio;
  const legendHeight = 26 * ratio;
  const out = document.createElement("canvas");
  out.width = plot.width + 2 * pad;
  out.height = plot.height + titleHeight + legendHeight + 2 * pad;
  const ctx = out.getContext("2d");
  ctx.fillStyle = cssColor("--panel") || "#ffffff";
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.fillStyle = cssColor("--ink");
  ctx.font = `bold ${15 * ratio}px ${FONT}`;
  ctx.fillText($("h3", panel).textContent, pad, pad + 15 * ratio);
  ctx.fillStyle = cssColor("--muted");
  ctx.font = `${11 * ratio}px ${FONT}`;
  ctx.fillText(figureCaption(name), pad, pad + 33 * ratio, out.width - 2 * pad);
  ctx.drawImage(plot, pad, pad + titleHeight);
  let x = pad + 60 * ratio;
  const y = pad + titleHeight + plot.height + 16 * ratio;
  ctx.font = `${12 * ratio}px ${FONT}`;
  for (const entry of legends[name]) {
    ctx.fillStyle = entry.color;
    ctx.strokeStyle = entry.color;
    if (entry.kind === "line") {
      ctx.lineWidth = 2.5 * ratio;
      ctx.beginPath();
      ctx.moveTo(x, y - 4 * ratio);
      ctx.lineTo(x + 22 * ratio, y - 4 * ratio);
      ctx.stroke();
    } else {
      ctx.fillRect(x, y - 10 * ratio, 22 * ratio, 12 * ratio);
    }
    ctx.fillStyle = cssColor("--ink");
    ctx.fillText(entry.label, x + 28 * ratio, y);
    x += 40 * ratio + ctx.measureText(entry.label).width;
  }
  return new Promise((resolve) => out.toBlob(resolve, "image/png"));
}

function figureCaption(name) {
  const e = experiment;
  const rest = Object.entries(e.config)
    .filter(([k]) => k !== "seed")
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join("-") : v}`);
  const which = name === "histogram" ? `${e.vary.field} ${histogramPoint().label}, ` : "";
  return `${which}${plural(e.trials, "trial")} per value${rest.length ? `; ${rest.join(", ")}` : ""}; seed ${e.config.seed}`;
}

async function download(name) {
  const blob = await chartPng(name);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `ticketrush-experiment-${experiment.id}-${name}.png`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// -- loading ------------------------------------------------------------------------------------------------------

async function load(id) {
  let response;
  try {
    response = await fetch(`/experiments/${encodeURIComponent(id)}`, { headers: { Accept: "application/json" } });
  } catch {
    return failed("The server cannot be reached; trying again.", true);
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `The server answered ${response.status}.`;
    return failed(detail, response.status >= 500);
  }
  show(body);
  if (!FINISHED.has(body.status)) setTimeout(() => load(id), POLL_MS);
}

function failed(message, again) {
  $("#experiment").dataset.status = "error";
  $("#experiment-summary").textContent = "";
  const error = $("#experiment-error");
  error.hidden = false;
  error.textContent = message;
  if (again) setTimeout(() => load(experimentId()), POLL_MS * 3);
}

function start() {
  const id = experimentId();
  if (!id) return failed("No experiment named: open /experiments/<id>/view.", false);
  for (const button of document.querySelectorAll("[data-export]")) {
    button.addEventListener("click", () => download(button.dataset.export));
  }
  $("#evenly").addEventListener("change", () => experiment && redraw());
  $("#histogram-point").addEventListener("change", () => {
    if (experiment) draw("histogram", null, histogramData(histogramPoint()));
  });
  load(id);
}

start();
