/* How the page speaks of each cure's records: what a buyer waits for, why one gave up, what its timeline shows.
 * Every sentence is about the run's own config and result. */

import { has, t } from "./i18n.js";

export const OUTCOME_MARK = { success: "\u2713", sold_out: "\u25CB", gave_up: "\u2013", error: "\u2715" };
export const STALE_MARK = "\u26A0";
export const RETRY_MARK = "\u21BB";

/** The lock's name, as the page says it: "the process lock". */
export function lockName(lock) {
  return has(`lock.${lock}`) ? t(`lock.${lock}`) : t("lock.other", { lock });
}

/** What a buyer of this run waits for between t_lock_requested and t_lock_acquired (a lock of read-write's, or the
 * store's own that for-update takes), or null when nobody waits. */
export function waitFor(config) {
  if (config.strategy === "seller") return { kind: "queue", what: t("wait.queue") };
  if (config.strategy === "for-update" && has(`write_lock.${config.store}`)) {
    return { kind: "lock", what: t("wait.lock", { lock: t(`write_lock.${config.store}`) }) };
  }
  if (config.lock && config.lock !== "none") return { kind: "lock", what: t("wait.lock", { lock: lockName(config.lock) }) };
  return null;
}

export function outcomeText(outcome, config) {
  if (outcome === "success") return t("outcome.success");
  if (outcome === "sold_out") return t("outcome.sold_out");
  if (outcome === "error") return t("outcome.error");
  if (outcome !== "gave_up") return outcome;
  if (config.strategy === "seller") return t("outcome.gave_up.seller");
  if (config.strategy === "optimistic") return t("outcome.gave_up.optimistic");
  const wait = waitFor(config);
  return wait ? t("outcome.gave_up.waiting", { what: wait.what }) : t("outcome.gave_up");
}

/** A step's name (search, read, write) as the page says it. */
export function stepName(step) {
  return has(`step.${step}`) ? t(`step.${step}`) : step;
}

/** What the timeline of this run shows, in the run's own figures. */
export function timelineStory(config, result) {
  const most = result ? result.max_in_critical : null;
  if (config.strategy === "seller") {
    return t("story.seller") + (result ? t("story.seller.rounds", { n: result.seller_rounds }) : "") + t("story.end");
  }
  if (config.strategy === "optimistic") {
    return t("story.optimistic", { mark: RETRY_MARK }) + (result ? t("story.optimistic.refused", { n: result.retries }) : "");
  }
  if (config.lock === "semaphore") {
    return t("story.semaphore", { n: config.permits }) + (most !== null ? t("story.semaphore.most", { n: most }) : "") +
      t("story.end");
  }
  if (config.lock && config.lock !== "none") return t("story.lock");
  if (most !== null && most <= 1) return t("story.none.apart");
  return t("story.none") + (most !== null ? t("story.none.most", { n: most }) : "") + t("story.none.end");
}
