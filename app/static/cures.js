/* What the server can run, as GET /cures lists it from the engine's support table: the stores, the strategies
 * each takes, the locks each strategy takes, the cures a comparison runs, and whether this server can use each
 * store (and if not, why). Nothing here is a copy of it. */

import { api } from "./api.js";

let catalogue = { stores: [], defaults: {} };

export async function loadCures() {
  catalogue = await api("GET", "/cures");
  return catalogue;
}

export function defaults() {
  return catalogue.defaults;
}

export function storeNames() {
  return catalogue.stores.map((store) => store.name);
}

/** Every store as GET /cures lists it: [{name, strategies, cures, usable, problem}]. */
export function allStores() {
  return catalogue.stores;
}

function store(name) {
  return catalogue.stores.find((s) => s.name === name);
}

/** The strategies `storeName` takes, each with its locks: [{name, locks}]. */
export function strategiesOf(storeName) {
  return store(storeName)?.strategies ?? [];
}

export function locksOf(storeName, strategy) {
  return strategiesOf(storeName).find((s) => s.name === strategy)?.locks ?? [];
}

/** Why this server cannot run `storeName` (the refusal a run there would get); null when it can. */
export function storeProblem(storeName) {
  return store(storeName)?.problem ?? null;
}

/** What a comparison on `storeName` runs, in its order: [{name, strategy, lock}]. */
export function curesOf(storeName) {
  return store(storeName)?.cures ?? [];
}

/** The name a comparison gives the cure (strategy, lock): "read-write/process", "seller". */
export function cureName(strategy, lock) {
  for (const s of catalogue.stores) {
    const cure = s.cures.find((c) => c.strategy === strategy && c.lock === lock);
    if (cure) return cure.name;
  }
  return lock && lock !== "none" ? `${strategy}/${lock}` : strategy;
}
