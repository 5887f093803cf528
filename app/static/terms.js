/* How the page speaks of each cure's records: what a buyer waits for, why one gave up, what its timeline shows.
 * Every sentence is about the run's own config and result. */

import { plural } from "./format.js";

export const OUTCOME_MARK = { success: "\u2713", sold_out: "\u25CB", gave_up: "\u2013", error: "\u2715" };
export const RETRY_MARK = "\u21BB";

const LOCK_NAME = { process: "the process lock", file: "the file lock", semaphore: "a semaphore permit" };

/** What a buyer of this run waits for between t_lock_requested and t_lock_acquired, or null when nobody waits. */
export function waitFor(config) {
  if (config.strategy === "seller") return { kind: "queue", what: "in the seller's queue" };
  if (config.lock && config.lock !== "none") return { kind: "lock", what: `for ${LOCK_NAME[config.lock] || `the ${config.lock} lock`}` };
  return null;
}

export function outcomeText(outcome, config) {
  if (outcome === "success") return "got a ticket";
  if (outcome === "sold_out") return "found it sold out";
  if (outcome === "error") return "failed";
  if (outcome !== "gave_up") return outcome;
  if (config.strategy === "seller") return "gave up waiting for the seller's answer";
  if (config.strategy === "optimistic") return "gave up: every write it tried was refused";
  const wait = waitFor(config);
  return wait ? `gave up waiting ${wait.what}` : "gave up";
}

/** What the timeline of this run shows, in the run's own figures. */
export function timelineStory(config, result) {
  const most = result ? result.max_in_critical : null;
  if (config.strategy === "seller") {
    const rounds = result ? ` (${plural(result.seller_rounds, "round")} here)` : "";
    return (
      "Each buyer waits in the seller's queue (hatched) until the seller takes its request. The seller reads the " +
      "count once a round and decides that round's requests in turn, so a round's buyers share one read\u2013write " +
      `window${rounds}.`
    );
  }
  if (config.strategy === "optimistic") {
    const refused = result ? ` Here ${plural(result.retries, "write was", "writes were")} refused and retried.` : "";
    return (
      "No lock: the read\u2013write windows may overlap, but a write is refused when another buyer wrote since the " +
      `read, and that buyer reads again (dashed: its refused tries; ${RETRY_MARK} how many).${refused}`
    );
  }
  if (config.lock === "semaphore") {
    const here = most !== null ? `; here up to ${most} overlapped` : "";
    return `The semaphore lets ${plural(config.permits, "buyer")} between read and write at once${here}.`;
  }
  if (config.lock && config.lock !== "none") {
    return "Under the lock the read\u2013write windows follow one another like a staircase.";
  }
  if (most !== null && most <= 1) return "Without a lock nothing kept the read\u2013write windows apart, but here none overlapped.";
  return (
    "Without a lock the read\u2013write windows overlap" +
    (most !== null ? ` (up to ${most} at once)` : "") +
    ": each buyer in an overlap sold from a stale count."
  );
}
