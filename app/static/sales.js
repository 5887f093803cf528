/* Who really sold, from the records' writes: the db's count over time and each sale's part in it.
 *
 * The writes are taken in the order they happened. The first buyer to write a count made the real sale of that
 * count; a later buyer who wrote the same count had read it before that write (it sold from a stale count), so
 * its sale is not in the count: these are the buyers the Result's `conflicts` name after their first writer. A
 * write that leaves the count higher than it was pushed it back up, undoing sales written since its read.
 */

/** `records` of a run that started with `ticketsInitial`; times in ms from `origin` (ns) by `ms`.
 *
 * Returns {points: [{ms, count, buyer, stale, pushedUp}] (one per write, in order), final, firstWrite (the first
 * write's point or null), roles: Map buyer -> {role: "sale"|"stale", wrote, first (the buyer who wrote that
 * count first), pushedUp, from (the count it pushed up from)}}. */
export function salesOf(records, ticketsInitial, ms) {
  const writes = records
    .filter((r) => r.outcome === "success" && r.wrote !== null && r.wrote !== undefined && r.t_write !== null)
    .map((r) => ({ buyer: r.buyer, wrote: Number(r.wrote), ms: ms(r.t_write) }))
    .sort((a, b) => a.ms - b.ms || b.wrote - a.wrote || a.buyer - b.buyer);
  const firstWriter = new Map();
  const roles = new Map();
  const points = [];
  let count = Number(ticketsInitial);
  for (const w of writes) {
    const pushedUp = w.wrote > count;
    const first = firstWriter.get(w.wrote);
    const stale = first !== undefined;
    if (!stale) firstWriter.set(w.wrote, w.buyer);
    roles.set(w.buyer, {
      role: stale ? "stale" : "sale",
      wrote: w.wrote,
      first: stale ? first : w.buyer,
      pushedUp,
      from: count,
    });
    points.push({ ms: w.ms, count: w.wrote, buyer: w.buyer, stale, pushedUp, from: count });
    count = w.wrote;
  }
  return { points, final: count, start: Number(ticketsInitial), firstWrite: points[0] || null, roles };
}
