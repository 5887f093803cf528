/* Compare cures: the form's config under every cure of the chosen store (as GET /cures lists them), with one seed,
 * ONE AFTER ANOTHER: the next run is posted only once the previous one has finished, so no run slows another.
 * Once every cure has run, their sales per second are drawn as bars (curebars.js). */

import { api, configBody } from "./api.js";
import { curesOf } from "./cures.js";
import { listed, t } from "./i18n.js";
import { readBase, setBusy, showFormError, withCure } from "./form.js";
import { addToComparison, beginComparison, setComparisonNote, stillShown } from "./view.js";
import { drawCureBars } from "./curebars.js";

export async function compareCures() {
  showFormError("");
  const base = readBase();
  const cures = curesOf(base.store);
  if (!cures.length) {
    showFormError(t("compare.no_cure", { store: base.store }));
    return;
  }
  const token = beginComparison(cures.length);
  const what = { n: cures.length, store: base.store };
  let seed = base.seed;
  const finals = [];
  setBusy(true);
  try {
    for (const [i, cure] of cures.entries()) {
      const withSeed = seed === undefined ? "" : t("compare.with_seed", { seed: String(seed) });
      setComparisonNote(t("compare.running", { ...what, seed: withSeed, done: i, cure: cure.name }));
      let simulation;
      try {
        simulation = await api("POST", "/simulations", configBody(withCure({ ...base, seed }, cure)));
      } catch (err) {
        if (!stillShown(token)) return;
        showFormError(i === 0 ? err.message : t("compare.not_started.error", { cure: cure.name, error: err.message }));
        setComparisonNote(i === 0 ? "" : stopped(cures, i, t("compare.not_started", { cure: cure.name })));
        return;
      }
      if (!stillShown(token)) return;
      if (seed === undefined && simulation.config) seed = simulation.config.seed;
      const final = await addToComparison(simulation).finished;
      if (!stillShown(token)) return;
      if (!final || final.status === "cancelled") {
        setComparisonNote(stopped(cures, i + 1, t("compare.cancelled", { cure: cure.name })));
        return;
      }
      finals.push({ cure, simulation: final });
    }
    setComparisonNote(t("compare.done", { ...what, seed: String(seed) }));
    drawCureBars(finals);
  } finally {
    setBusy(false);
  }
}

function stopped(cures, next, why) {
  const left = cures.slice(next).map((c) => c.name);
  return t(left.length ? "compare.stopped.left" : "compare.stopped", { why, left: listed(left) });
}

