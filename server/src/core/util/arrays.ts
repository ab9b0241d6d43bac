// Array helpers safe for inputs of any length. `target.push(...items)` and `Math.max(...items)` pass
// every item as a call argument and throw RangeError (call stack) past roughly 100k items.

/** Appends `items` to `target` in place, one at a time (no argument spreading). */
export function appendAll<T>(target: T[], items: readonly T[]): T[] {
  for (let i = 0; i < items.length; i++) target.push(items[i]!);
  return target;
}

/** Largest of `values`, or `empty` when there are none (Math.max without spreading). */
export function maxOf(values: Iterable<number>, empty = -Infinity): number {
  let best = empty;
  let any = false;
  for (const v of values) {
    best = any ? Math.max(best, v) : v;
    any = true;
  }
  return any ? best : empty;
}
