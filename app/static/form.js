/* The form: the config it describes, and the choices it offers (only what the chosen store takes). */

import { $ } from "./dom.js";
import { has, t } from "./i18n.js";
import { defaults, locksOf, storeNames, storeProblem, strategiesOf } from "./cures.js";

/** The field's number; an empty (or unreadable) field is null, which the server refuses naming the field,
 * rather than left out, which would run with a default the user did not ask for. Optional fields (the pool
 * size, whose placeholder says what empty means) are left out when empty. */
function numberField(name, { optional = false } = {}) {
  const input = document.getElementById(name);
  if (input.value.trim() === "") return optional ? undefined : null;
  return Number(input.value);
}

function delayField(name) {
  const low = numberField(`${name}_min`);
  const high = numberField(`${name}_max`);
  if (low === null || high === null || low === high) return low ?? high;
  return [low, high];
}

function shown(id) {
  return !document.getElementById(id).closest(".field").hidden;
}

/** The first of `candidates` that is among `names`, else the first name. */
function pick(names, ...candidates) {
  return candidates.find((c) => c !== undefined && c !== null && names.includes(c)) ?? names[0] ?? "";
}

/** The options of `select`, one per name: the API's name, said in the page's language where the catalogue has it. */
function offer(select, names, chosen) {
  const options = names.map((name) => {
    const option = document.createElement("option");
    const key = `choice.${select.id}.${name}`;
    option.value = name;
    option.textContent = has(key) ? t(key) : name;
    return option;
  });
  select.replaceChildren(...options);
  select.value = chosen;
}

/** Fill Store, Strategy and Lock with what the server takes, keeping `wanted` (or else the current choice, or else
 * the config's default) where it is offered; then show only the fields the choice uses. */
export function offerChoices(wanted = {}) {
  const store = $("#store");
  const strategy = $("#strategy");
  const lock = $("#lock");
  const fallback = defaults();
  const stores = storeNames();
  offer(store, stores, pick(stores, wanted.store, store.value, fallback.store));
  const strategies = strategiesOf(store.value).map((s) => s.name);
  offer(strategy, strategies, pick(strategies, wanted.strategy, strategy.value, fallback.strategy));
  const locks = locksOf(store.value, strategy.value);
  offer(lock, locks, pick(locks, wanted.lock, lock.value, fallback.lock));
  const help = `strategy.help.${strategy.value}`;
  $("#strategy-help").textContent = has(help) ? t(help) : "";
  const problem = storeProblem(store.value);
  $("#store-help").textContent = problem ?? t("form.store.help");
  $("#store-help").classList.toggle("store-problem", Boolean(problem));
  showFieldsInUse();
}

/** Lock only for a strategy that takes one; Permits only for the semaphore; Max retries only for optimistic. */
function showFieldsInUse() {
  const locks = [...$("#lock").options].map((o) => o.value);
  const takesLock = locks.some((lock) => lock !== "none");
  $("#lock").closest(".field").hidden = !takesLock;
  $("#permits").closest(".field").hidden = !(takesLock && $("#lock").value === "semaphore");
  $("#max_retries").closest(".field").hidden = $("#strategy").value !== "optimistic";
}

export function bindChoices() {
  $("#store").addEventListener("change", () => offerChoices());
  $("#strategy").addEventListener("change", () => offerChoices());
  $("#lock").addEventListener("change", showFieldsInUse);
  const fallback = defaults();
  $("#permits").value = String(fallback.permits ?? "");
  $("#max_retries").value = String(fallback.max_retries ?? "");
  offerChoices();
}

/** Everything but the cure: what every run of a comparison shares. */
export function readBase() {
  const config = {
    buyers: numberField("buyers"),
    tickets: numberField("tickets"),
    store: $("#store").value,
    executor: $("#executor").value,
    workers: $("#executor").value === "pool" ? numberField("workers", { optional: true }) : undefined,
    think_ms: delayField("think"),
    hold_ms: delayField("hold"),
    together: $("#together").checked,
    lock_timeout_s: numberField("lock_timeout_s"),
  };
  const seed = $("#seed").value.trim();
  if (seed) config.seed = seed;
  for (const key of Object.keys(config)) if (config[key] === undefined) delete config[key];
  return config;
}

/** `base` run by `cure` ({strategy, lock}); the permits and max retries shown in the form go with the cure that
 * uses them (hidden, they are left to the server's defaults). */
export function withCure(base, { strategy, lock }) {
  const config = { ...base, strategy, lock };
  if (lock === "semaphore" && shown("permits")) config.permits = numberField("permits");
  if (strategy === "optimistic" && shown("max_retries")) config.max_retries = numberField("max_retries");
  return config;
}

export function readForm() {
  const locks = [...$("#lock").options].map((o) => o.value);
  const lock = shown("lock") ? $("#lock").value : locks[0];
  return withCure(readBase(), { strategy: $("#strategy").value, lock });
}

export function fillForm(config) {
  const set = (id, value) => {
    document.getElementById(id).value = value === undefined || value === null ? "" : String(value);
  };
  set("buyers", config.buyers);
  set("tickets", config.tickets);
  offerChoices({ store: config.store, strategy: config.strategy, lock: config.lock });
  set("permits", config.permits ?? defaults().permits);
  set("max_retries", config.max_retries ?? defaults().max_retries);
  set("executor", config.executor);
  set("workers", config.executor === "pool" ? config.workers : "");
  for (const name of ["think", "hold"]) {
    const delay = config[`${name}_ms`];
    const [low, high] = Array.isArray(delay) ? delay : [delay, delay];
    set(`${name}_min`, low);
    set(`${name}_max`, high);
  }
  set("seed", config.seed);
  set("lock_timeout_s", config.lock_timeout_s);
  $("#together").checked = config.together !== false;
}

export function showFormError(message) {
  const box = $("#form-error");
  box.textContent = message || "";
  box.hidden = !message;
}

export function setBusy(busy) {
  for (const id of ["#run", "#step", "#compare", "#matrix-run"]) $(id).disabled = busy;
}
