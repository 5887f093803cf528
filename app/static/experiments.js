/* Experiments (started with POST /experiments or `ticketrush sweep`): GET /experiments, newest first, each a link
 * to its own page of charts, /experiments/{id}/view. */

import { api } from "./api.js";
import { $, text } from "./dom.js";
import { formatWhen } from "./format.js";
import { num, t } from "./i18n.js";

const EXPERIMENTS_PAGE = 10;

export function bindExperiments() {
  $("#history-refresh").addEventListener("click", refreshExperiments);
}

export async function refreshExperiments() {
  const list = $("#experiments");
  const note = $("#experiments-note");
  try {
    const page = await api("GET", `/experiments?limit=${EXPERIMENTS_PAGE}`);
    list.replaceChildren(...page.data.map(experimentItem));
    note.textContent = page.count
      ? t("experiments.shown", { shown: page.data.length, n: page.count })
      : t("experiments.none");
  } catch (err) {
    note.textContent = t("experiments.failed", { error: err.message });
  }
}

function experimentItem(e) {
  const item = text("li");
  item.dataset.id = e.id;
  const link = text("a", t("experiments.vary", { field: e.vary.field, values: e.vary.values.map(String).join(", ") }));
  link.href = `/experiments/${encodeURIComponent(e.id)}/view`;
  const chip = text("span", t(`status.chip.${e.status}`), "status-chip");
  chip.dataset.status = e.status;
  const detail = t("experiments.detail", {
    n: e.trials,
    done: num(e.progress.finished),
    all: num(e.progress.trials),
    when: formatWhen(e.created_at),
  });
  item.append(link, " ", chip, text("span", detail, "muted"));
  return item;
}
