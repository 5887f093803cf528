/*
 * The ticketrush dashboard: one page over the HTTP API, in plain ES modules (no build step).
 *
 *   cures.js    GET /cures: the stores, strategies, locks and cures the form may offer
 *   form.js     the form: the config it describes; only the choices the chosen store takes
 *   compare.js  Compare cures: every cure of the store, one run after another, one seed
 *   view.js     the cards the URL names (/?id=a&id=b), a comparison's shared time axis
 *   card.js     one simulation: live progress (SSE), the result, then its timeline.js or histogram.js
 *   history.js  past simulations
 *
 * Every figure shown comes from the API as it is; the only thing computed here is the charts' geometry.
 */

import { api, configBody } from "./api.js";
import { $ } from "./dom.js";
import { loadCures } from "./cures.js";
import { bindChoices, fillForm, readForm, setBusy, showFormError } from "./form.js";
import { compareCures } from "./compare.js";
import { bindHistory, refreshHistory } from "./history.js";
import { idsFromLocation, redraw, setViewHooks, showSimulations } from "./view.js";

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

function repeat(config) {
  fillForm(config);
  $("#buyers").focus();
  $("#config").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function start() {
  $("#config").addEventListener("submit", runOne);
  $("#compare").addEventListener("click", compareCures);
  setViewHooks({ finished: refreshHistory, repeat });
  bindHistory({ open: (ids) => showSimulations(ids, { push: true }) });
  window.addEventListener("popstate", () => showSimulations(idsFromLocation()));
  let pending = 0;
  window.addEventListener("resize", () => {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(redraw);
  });
  try {
    await loadCures();
    bindChoices();
    setBusy(false);
  } catch (err) {
    showFormError(`The server's list of stores and cures could not be loaded, so nothing can be run: ${err.message}`);
  }
  const ids = idsFromLocation();
  if (ids.length) {
    showSimulations(ids);
    $("#results").scrollIntoView({ block: "start" });
  }
  refreshHistory();
}

start();
