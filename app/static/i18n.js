/* The page's words in the reader's language: one catalogue per language (locales/<code>.js), as data.
 *
 * The language is ?lang= when the URL names one of LANGUAGES, else the first of the browser's languages
 * (what it sends as Accept-Language) that is one of them, else English. The API is asked for verdicts and
 * explanations in the same language (api.js sends it as Accept-Language, and as ?lang= where no header can go).
 *
 * A catalogue entry is a template with {name} holes, or {one, other} chosen by the value `n`; numbers are
 * written with the language's grouping (1,000,000). Static text in index.html names its entry with
 * data-i18n="key" (its text) or data-i18n-attr="attribute:key;..." (its attributes). A new language is a new
 * catalogue file and its code in LANGUAGES.
 */

export const LANGUAGES = ["en", "zh"];
export const DEFAULT = "en";

const state = { lang: DEFAULT, words: {}, fallback: {}, numbers: new Intl.NumberFormat("en-US") };

async function load(lang) {
  return (await import(`./locales/${lang}.js`)).default;
}

/** The language this page speaks: ?lang=, else the browser's, else English. */
export function chooseLanguage(search = window.location.search, wanted = navigator.languages || []) {
  const asked = new URLSearchParams(search).get("lang");
  if (asked && LANGUAGES.includes(asked)) return asked;
  for (const tag of wanted) {
    const code = String(tag).split("-")[0].toLowerCase();
    if (LANGUAGES.includes(code)) return code;
  }
  return DEFAULT;
}

export async function startLanguage(lang = chooseLanguage()) {
  state.fallback = await load(DEFAULT);
  state.words = lang === DEFAULT ? state.fallback : await load(lang);
  state.lang = lang;
  state.numbers = new Intl.NumberFormat(state.words["number.locale"] || "en-US", { maximumFractionDigits: 3 });
  document.documentElement.lang = state.words["html.lang"] || lang;
}

export function language() {
  return state.lang;
}

/** A link within the page ("/?id=a"), keeping ?lang= when the URL has it. */
export function keepLanguage(href) {
  const asked = new URLSearchParams(window.location.search).get("lang");
  if (!asked) return href;
  return `${href}${href.includes("?") ? "&" : "?"}lang=${encodeURIComponent(asked)}`;
}

/** A number as this language writes it: 1,000,000; 110.5. */
export function num(value) {
  const n = Number(value);
  return Number.isFinite(n) ? state.numbers.format(n) : String(value);
}

function show(value) {
  return typeof value === "number" ? num(value) : String(value);
}

/** The catalogue's entry `key` with its holes filled from `params`. */
export function t(key, params = {}) {
  let entry = state.words[key];
  if (entry === undefined) entry = state.fallback[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") entry = Number(params.n) === 1 ? entry.one : entry.other;
  return entry.replace(/\{(\w+)\}/g, (hole, name) => (name in params ? show(params[name]) : hole));
}

/** Whether the catalogue has `key` (in this language or in English). */
export function has(key) {
  return key in state.words || key in state.fallback;
}

/** "a", "a and b", "a, b and c" in this language. */
export function listed(words) {
  if (words.length < 2) return words.join("");
  return t("list.last", { head: words.slice(0, -1).join(t("list.sep")), last: words[words.length - 1] });
}

/** Put the catalogue's words into the static page: data-i18n (text) and data-i18n-attr ("attr:key;attr:key"). */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":").map((s) => s.trim());
      if (attr && key) el.setAttribute(attr, t(key));
    }
  }
  if (root === document) document.title = t("page.title");
}
