/* How numbers, delays and times are written on the page. */

/** "1 buyer", "2 buyers", "1,000 buyers". */
export function plural(n, word, many = `${word}s`) {
  return `${Number(n).toLocaleString("en")} ${Number(n) === 1 ? word : many}`;
}

/** "a", "a and b", "a, b and c". */
export function listed(words) {
  if (words.length < 2) return words.join("");
  return `${words.slice(0, -1).join(", ")} and ${words[words.length - 1]}`;
}

export function capitalize(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : word;
}

export function delayText(delay) {
  if (Array.isArray(delay)) return `${delay[0]}\u2013${delay[1]} ms`;
  return `${delay} ms`;
}

/** Milliseconds on an axis: "0", "2.5", "40", "1200". */
export function formatTick(ms) {
  if (ms === 0) return "0";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1).replace(/\.0$/, "");
  return ms.toFixed(2).replace(/\.?0+$/, "");
}

/** An API timestamp as this browser writes a time: the time alone if it is today. */
export function formatWhen(iso) {
  if (!iso) return "?";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const today = date.toDateString() === new Date().toDateString();
  return today
    ? date.toLocaleTimeString(undefined, { timeStyle: "medium" })
    : date.toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });
}
