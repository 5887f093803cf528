/* How numbers, delays and times are written on the page (in the page's language: i18n.js). */

import { num, t } from "./i18n.js";

/** A delay of the config: "100 ms", "100–300 ms". */
export function delayText(delay) {
  if (Array.isArray(delay)) return t("unit.ms", { n: `${num(delay[0])}\u2013${num(delay[1])}` });
  return t("unit.ms", { n: delay });
}

/** Milliseconds on an axis: "0", "2.5", "40", "1,200". */
export function formatTick(ms) {
  if (ms === 0) return "0";
  if (ms >= 100) return num(Math.round(ms));
  if (ms >= 10) return ms.toFixed(1).replace(/\.0$/, "");
  return ms.toFixed(2).replace(/\.?0+$/, "");
}

/** A time from the run's start, in ms: "+12.345 ms". */
export function sinceStart(ms) {
  return t("unit.since_start", { ms });
}

/** An API timestamp as this browser writes a time: the time alone if it is today. */
export function formatWhen(iso) {
  if (!iso) return "?";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const locale = t("number.locale");
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString(locale, { timeStyle: "medium" })
    : date.toLocaleString(locale, { dateStyle: "short", timeStyle: "short" });
}
