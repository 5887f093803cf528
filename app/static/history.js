/* Past simulations: GET /simulations a page at a time, newest first, each a link to /?id=... */

import { api } from "./api.js";
import { $, text } from "./dom.js";
import { formatWhen } from "./format.js";
import { cureName } from "./cures.js";

const HISTORY_PAGE = 15;
const historyList = { offset: 0, loading: false, again: false, open: () => {} };

/** `open(ids)` shows a listed simulation. */
export function bindHistory({ open }) {
  historyList.open = open;
  $("#history-refresh").addEventListener("click", refreshHistory);
  $("#history-more").addEventListener("click", () => loadHistory(true));
}

export async function refreshHistory() {
  if (historyList.loading) {
    historyList.again = true;
    return;
  }
  historyList.offset = 0;
  await loadHistory(false);
  if (historyList.again) {
    historyList.again = false;
    await refreshHistory();
  }
}

async function loadHistory(append) {
  if (historyList.loading) return;
  historyList.loading = true;
  const tbody = $("#history tbody");
  const note = $("#history-note");
  try {
    const page = await api("GET", `/simulations?offset=${historyList.offset}&limit=${HISTORY_PAGE}`);
    if (!append) tbody.replaceChildren();
    for (const s of page.data) tbody.append(historyRow(s));
    historyList.offset += page.data.length;
    note.textContent = page.count
      ? `${historyList.offset} of ${page.count} shown, newest first.`
      : "None yet: your runs will be listed here.";
    $("#history-more").hidden = historyList.offset >= page.count;
  } catch (err) {
    note.textContent = `The list could not be loaded: ${err.message}`;
  } finally {
    historyList.loading = false;
  }
}

function historyRow(s) {
  const config = s.config || {};
  const tr = text("tr");
  tr.dataset.id = s.id;
  const when = text("td");
  const link = text("a", s.started_at ? formatWhen(s.started_at) : s.status === "queued" ? "not yet" : "never");
  link.href = `/?id=${encodeURIComponent(s.id)}`;
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;
    event.preventDefault();
    historyList.open([s.id]);
  });
  when.append(link);
  const cure = text("td", cureName(config.strategy, config.lock));
  cure.append(text("span", ` on ${config.store}`, "muted"));
  tr.append(when, cure, text("td", `${config.buyers} / ${config.tickets}`, "num"), resultCell(s));
  return tr;
}

/** Completed: the API's verdict and counts; otherwise the status. */
function resultCell(s) {
  const cell = text("td");
  const r = s.result;
  if (s.status === "completed" && r) {
    const label = r.safe ? "\u2713 safe" : `\u26A0 ${r.oversold} oversold, ${r.lost_updates} lost`;
    const span = text("span", label, r.safe ? "safe-text" : "alarm-text");
    span.dataset.field = "oversold";
    span.dataset.value = String(r.oversold);
    cell.append(span);
  } else {
    const chip = text("span", s.status, "status-chip");
    chip.dataset.status = s.status;
    cell.append(chip);
  }
  return cell;
}
