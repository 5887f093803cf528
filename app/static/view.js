/* Which simulations the page shows (the URL says: /?id=a&id=b), their cards, and a comparison's shared time axis:
 * every timeline of a comparison is drawn from 0 to the longest run's span, each from its own run's start. */

import { $ } from "./dom.js";
import { keepLanguage } from "./i18n.js";
import { SimulationCard } from "./card.js";
import { hideCureBars, redrawCureBars } from "./curebars.js";

const view = {
  cards: [],
  comparison: false,
  comparing: null,
  generation: 0,
  hooks: { finished() {}, repeat() {}, run() {} },
};

/** `finished()`: a shown run has ended; `repeat(config)`: put a run's config back in the form; `run(config)`: start
 * a run of this config (a replay). */
export function setViewHooks(hooks) {
  Object.assign(view.hooks, hooks);
}

export function idsFromLocation() {
  const params = new URLSearchParams(window.location.search);
  const ids = params.getAll("id").flatMap((value) => value.split(","));
  if (!ids.length && window.location.hash.length > 1) ids.push(...window.location.hash.slice(1).split(","));
  return ids.map((id) => id.trim()).filter(Boolean);
}

export function urlFor(ids) {
  const params = new URLSearchParams();
  for (const id of ids) params.append("id", id);
  return keepLanguage(`/?${params}`);
}

const cardHooks = {
  open: (ids) => showSimulations(ids, { push: true }),
  repeat: (config) => view.hooks.repeat(config),
  run: (config) => view.hooks.run(config),
  finished: () => view.hooks.finished(),
  timelineReady: () => drawTimelines(),
};

function clear(count) {
  for (const card of view.cards) card.close();
  view.cards = [];
  const holder = $("#cards");
  holder.replaceChildren();
  holder.dataset.count = String(count);
  $("#empty").hidden = count > 0;
}

function addCard(id, known) {
  const card = new SimulationCard(id, cardHooks);
  $("#cards").append(card.root);
  view.cards.push(card);
  card.open(known);
  return card;
}

export function showSimulations(ids, { push = false, initial = [] } = {}) {
  view.generation += 1;
  clear(ids.length);
  setComparisonNote("");
  hideCureBars();
  view.comparison = ids.length > 1;
  if (push) window.history.pushState({ ids }, "", urlFor(ids));
  for (const id of ids) addCard(id, initial.find((s) => s.id === id));
  if (push) $("#results").focus({ preventScroll: false });
}

/** A comparison of `count` runs is about to start: its runs will replace what the page shows as they join it one by
 * one. The answer is the comparison's token for `stillShown` (false once the page shows something else). */
export function beginComparison(count) {
  view.generation += 1;
  hideCureBars();
  view.comparing = { size: count, joined: 0 };
  return view.generation;
}

export function stillShown(token) {
  return view.generation === token;
}

/** A comparison's next run joins the view (and the URL, so the comparison can be shared); its card is returned. */
export function addToComparison(simulation) {
  const comparing = view.comparing;
  if (comparing.joined === 0) {
    clear(comparing.size);
    view.comparison = true;
  }
  comparing.joined += 1;
  const card = addCard(simulation.id, simulation);
  const ids = view.cards.map((c) => c.id);
  if (comparing.joined === 1) {
    window.history.pushState({ ids }, "", urlFor(ids));
    $("#results").focus({ preventScroll: false });
  } else {
    window.history.replaceState({ ids }, "", urlFor(ids));
  }
  return card;
}

export function setComparisonNote(message) {
  const note = $("#comparison-note");
  note.textContent = message;
  note.hidden = !message;
}

/** Every timeline in view; in a comparison all on one axis, the longest run's span. */
function drawTimelines() {
  const drawn = view.cards.filter((card) => card.records);
  const axis = view.comparison && drawn.length ? Math.max(...drawn.map((card) => card.spanMs)) : null;
  for (const card of drawn) card.drawTimeline(axis);
}

export function redraw() {
  drawTimelines();
  redrawCureBars();
  for (const card of view.cards) card.redrawSteps();
}
