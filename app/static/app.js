/*
 * The ticketrush dashboard: one page over the HTTP API, in plain ES modules (no build step).
 *
 *   i18n.js     the page's words, one catalogue per language (locales/), and the language switch
 *   cures.js    GET /cures: the stores, strategies, locks and cures the form may offer
 *   form.js     the form: the config it describes; only the choices the chosen store takes
 *   presets.js  one click sets the form up for a lesson
 *   compare.js  Compare cures: every cure of the store, one run after another, one seed; then curebars.js draws
 *               their sales per second as bars, the oversold marked
 *   matrix.js   the matrix: every store x every cure, one run each, one after another, one seed; a grid of their
 *               oversold and sales per second, a store this server cannot use shown with the reason
 *   view.js     the cards the URL names (/?id=a&id=b), a comparison's shared time axis
 *   card.js     one simulation: live progress (SSE), the result, then its timeline.js or histogram.js;
 *               step mode (steps.js), the replay of its schedule (replay.js), the lesson's code (curecode.js)
 *   history.js  past simulations
 *   experiments.js  past experiments, each a link to its page of charts
 *
 * Every figure shown comes from the API as it is; what is computed here is the charts' geometry, and from the
 * records the db's count over time and who sold first (sales.js).
 */

import { api, configBody } from "./api.js";
import { $, text } from "./dom.js";
import { LANGUAGES, language, startLanguage, t, translatePage } from "./i18n.js";
import { loadCures } from "./cures.js";
import { bindChoices, fillForm, readForm, setBusy, showFormError } from "./form.js";
import { bindPresets } from "./presets.js";
import { compareCures } from "./compare.js";
import { bindMatrix, drawMatrix } from "./matrix.js";
import { bindHistory, refreshHistory } from "./history.js";
import { bindExperiments, refreshExperiments } from "./experiments.js";
import { idsFromLocation, redraw, setViewHooks, showSimulations } from "./view.js";

async function start(config) {
  showFormError("");
  setBusy(true);
  try {
    const simulation = await api("POST", "/simulations", configBody(config));
    showSimulations([simulation.id], { push: true, initial: [simulation] });
    refreshHistory();
  } catch (err) {
    showFormError(err.message);
  } finally {
    setBusy(false);
  }
}

function runOne(event) {
  event.preventDefault();
  return start(readForm());
}

/** Step mode: the form's race with buyers that take no step until told (the card's buttons). */
function stepOne() {
  return start({ ...readForm(), mode: "step" });
}

function repeat(config) {
  fillForm(config);
  $("#buyers").focus();
  $("#config").scrollIntoView({ behavior: "smooth", block: "start" });
}

/** The language switch: the same page (and the same runs) again in the chosen language. */
async function bindLanguageSwitch() {
  const select = $("#lang");
  const names = await Promise.all(
    LANGUAGES.map(async (code) => [code, (await import(`./locales/${code}.js`)).default["language.name"]]),
  );
  select.replaceChildren(
    ...names.map(([code, name]) => {
      const option = text("option", name);
      option.value = code;
      option.lang = code;
      return option;
    }),
  );
  select.value = language();
  select.addEventListener("change", () => {
    const url = new URL(window.location.href);
    url.searchParams.set("lang", select.value);
    window.location.assign(url.toString());
  });
}

async function main() {
  await startLanguage();
  translatePage();
  await bindLanguageSwitch();
  $("#config").addEventListener("submit", runOne);
  $("#step").addEventListener("click", stepOne);
  $("#compare").addEventListener("click", compareCures);
  setViewHooks({ finished: refreshHistory, repeat, run: start });
  bindHistory({ open: (ids) => showSimulations(ids, { push: true }) });
  bindExperiments();
  window.addEventListener("popstate", () => showSimulations(idsFromLocation()));
  let pending = 0;
  window.addEventListener("resize", () => {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(redraw);
  });
  try {
    await loadCures();
    bindChoices();
    bindPresets();
    bindMatrix({ finished: refreshHistory });
    drawMatrix();
    setBusy(false);
  } catch (err) {
    showFormError(t("form.cures_failed", { error: err.message }));
  }
  const ids = idsFromLocation();
  if (ids.length) {
    showSimulations(ids);
    $("#results").scrollIntoView({ block: "start" });
  }
  refreshHistory();
  refreshExperiments();
}

main();
