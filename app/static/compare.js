/* Compare cures: the form's config under every cure of the chosen store (as GET /cures lists them), with one seed,
 * ONE AFTER ANOTHER: the next run is posted only once the previous one has finished, so no run slows another. */

import { api, configBody } from "./api.js";
import { curesOf } from "./cures.js";
import { capitalize, listed, plural } from "./format.js";
import { readBase, setBusy, showFormError, withCure } from "./form.js";
import { addToComparison, beginComparison, setComparisonNote, stillShown } from "./view.js";

export async function compareCures() {
  showFormError("");
  const base = readBase();
  const cures = curesOf(base.store);
  if (!cures.length) {
    showFormError(`The server lists no cure for store ${base.store}.`);
    return;
  }
  const token = beginComparison(cures.length);
  const what = `the ${plural(cures.length, "cure")} of the ${base.store} store`;
  let seed = base.seed;
  setBusy(true);
  try {
    for (const [i, cure] of cures.entries()) {
      const withSeed = seed === undefined ? "" : ` with seed ${seed}`;
      setComparisonNote(
        `Comparing ${what} one after another${withSeed}: ${i} of ${cures.length} done, now ${cure.name}.`,
      );
      let simulation;
      try {
        simulation = await api("POST", "/simulations", configBody(withCure({ ...base, seed }, cure)));
      } catch (err) {
        if (!stillShown(token)) return;
        showFormError(i === 0 ? err.message : `${cure.name} was not started: ${err.message}`);
        setComparisonNote(i === 0 ? "" : stopped(cures, i, `${cure.name} was not started`));
        return;
      }
      if (!stillShown(token)) return;
      if (seed === undefined && simulation.config) seed = simulation.config.seed;
      const final = await addToComparison(simulation).finished;
      if (!stillShown(token)) return;
      if (!final || final.status === "cancelled") {
        setComparisonNote(stopped(cures, i + 1, `${cure.name} was cancelled`));
        return;
      }
    }
    setComparisonNote(
      `${capitalize(what)}, run one after another with seed ${seed}, each on its own; their timelines share ` +
        "one time axis, the longest run's.",
    );
  } finally {
    setBusy(false);
  }
}

function stopped(cures, next, why) {
  const left = cures.slice(next).map((c) => c.name);
  return `The comparison stopped: ${why}` + (left.length ? `, so ${listed(left)} did not run.` : ".");
}

