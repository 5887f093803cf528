/* The matrix: the form's rush (its buyers, tickets, delays and seed) under every cure of every store, one run per
 * store x cure, ONE AFTER ANOTHER as a comparison runs them, drawn as a grid: a row per store, a column per cure,
 * each cell the run's oversold and sales per second as the API gives them. A store this server cannot use (its
 * server's URL is not set) keeps its row, with GET /cures's reason in place of its cells. */

import { api, configBody } from "./api.js";
import { $, text } from "./dom.js";
import { keepLanguage, num, t } from "./i18n.js";
import { allStores } from "./cures.js";
import { FINAL } from "./card.js";
import { readBase, setBusy, showFormError, withCure } from "./form.js";

const POLL_MS = 250;

let matrixHooks = { finished() {} };

/** `finished()`: a run of the matrix has ended (the history may list it). */
export function bindMatrix(hooks) {
  matrixHooks = { ...matrixHooks, ...hooks };
  $("#matrix-run").addEventListener("click", runMatrix);
}

/** Every cure of any store, in the order the stores list them: the grid's columns. */
function columns(stores) {
  const names = [];
  for (const store of stores) for (const cure of store.cures) if (!names.includes(cure.name)) names.push(cure.name);
  return names;
}

/** The grid as GET /cures describes it, no run in it yet: a cell per cure a store takes, "-" where it takes none,
 * and a store this server cannot use said so across its row. */
export function drawMatrix() {
  const stores = allStores();
  const names = columns(stores);
  const table = $("#matrix-grid");
  const head = text("tr");
  head.append(text("th", t("matrix.store"), "corner"));
  for (const name of names) {
    const th = text("th", name);
    th.scope = "col";
    head.append(th);
  }
  const rows = stores.map((store) => {
    const tr = text("tr");
    tr.dataset.store = store.name;
    const th = text("th", store.name);
    th.scope = "row";
    tr.append(th);
    if (!store.usable) {
      tr.classList.add("unusable");
      const reason = text("td", store.problem, "matrix-problem");
      reason.colSpan = names.length;
      tr.append(reason);
      return tr;
    }
    for (const name of names) {
      const takes = store.cures.some((cure) => cure.name === name);
      const td = text("td", takes ? "" : "\u2013", takes ? "cell pending" : "cell absent");
      td.dataset.cure = name;
      if (!takes) td.title = t("matrix.absent", { store: store.name, cure: name });
      tr.append(td);
    }
    return tr;
  });
  $("thead", table).replaceChildren(head);
  $("tbody", table).replaceChildren(...rows);
  $("#matrix").hidden = !stores.length;
}

function cell(store, cure) {
  return $(`#matrix-grid tr[data-store="${CSS.escape(store)}"] td[data-cure="${CSS.escape(cure)}"]`);
}

/** A finished run in its cell: oversold (marked when it is not 0) and sales per second, a link to the run. */
function fill(td, simulation) {
  td.className = "cell";
  td.dataset.id = simulation.id;
  td.dataset.status = simulation.status;
  const link = text("a");
  link.href = keepLanguage(`/?id=${encodeURIComponent(simulation.id)}`);
  const result = simulation.status === "completed" ? simulation.result : null;
  if (result) {
    td.dataset.oversold = String(result.oversold);
    td.dataset.salesPerSecond = String(result.sales_per_second);
    if (result.oversold > 0) td.classList.add("oversold");
    link.append(
      text("span", t(result.oversold > 0 ? "matrix.oversold" : "matrix.oversold.none", { n: result.oversold }), "cell-oversold"),
      text("span", t("matrix.rate", { rate: num(result.sales_per_second) }), "cell-rate"),
    );
  } else {
    td.classList.add("no-result");
    link.append(text("span", t(`status.chip.${simulation.status}`), "cell-status"));
    if (simulation.error) td.title = simulation.error;
  }
  td.replaceChildren(link);
}

function refuse(td, message) {
  td.className = "cell no-result";
  td.replaceChildren(text("span", message, "cell-status"));
}

/** The simulation once it has finished; the server's run time limit ends every run. */
async function finished(id) {
  for (;;) {
    const simulation = await api("GET", `/simulations/${encodeURIComponent(id)}`);
    if (FINAL.has(simulation.status)) return simulation;
    await new Promise((resolve) => window.setTimeout(resolve, POLL_MS));
  }
}

function setNote(message) {
  const note = $("#matrix-note");
  note.textContent = message;
  note.hidden = !message;
}

export async function runMatrix() {
  showFormError("");
  drawMatrix();
  const base = readBase();
  const runs = allStores()
    .filter((store) => store.usable)
    .flatMap((store) => store.cures.map((cure) => ({ store: store.name, cure })));
  const skipped = allStores().filter((store) => !store.usable).length;
  let seed = base.seed;
  let done = 0;
  setBusy(true);
  $("#matrix").scrollIntoView({ block: "start" });
  try {
    for (const { store, cure } of runs) {
      const withSeed = seed === undefined ? "" : t("compare.with_seed", { seed: String(seed) });
      setNote(t("matrix.running", { n: runs.length, done, store, cure: cure.name, seed: withSeed }));
      const td = cell(store, cure.name);
      td.classList.add("running");
      let simulation;
      try {
        simulation = await api("POST", "/simulations", configBody(withCure({ ...base, store, seed }, cure)));
      } catch (err) {
        if (err.status !== 422) {
          refuse(td, err.message);
          setNote(t("matrix.stopped", { n: runs.length, done, error: err.message }));
          return;
        }
        refuse(td, err.message); // this config alone is refused: the others may still run
        done += 1;
        continue;
      }
      if (seed === undefined && simulation.config) seed = simulation.config.seed;
      fill(td, await finished(simulation.id));
      done += 1;
      matrixHooks.finished();
    }
    const withSeed = seed === undefined ? "" : t("compare.with_seed", { seed: String(seed) });
    const left = skipped ? ` ${t("matrix.skipped", { n: skipped })}` : "";
    setNote(`${t("matrix.done", { n: runs.length, seed: withSeed })}${left}`);
  } catch (err) {
    setNote(t("matrix.stopped", { n: runs.length, done, error: err.message }));
  } finally {
    setBusy(false);
  }
}
