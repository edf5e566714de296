/**
 * How many sign-ins each per-process cache of small entries tracks at most (checks, news heard,
 * pauses, lastSeen writes, opened ciphertexts): a process's memory stays flat however many
 * users it meets. Past it, the oldest is forgotten, which costs at most one more Redis read or
 * write for that sign-in, never a wrong answer.
 */
export const PER_PROCESS_MAX = 5_000;

/**
 * Drops the oldest entries of an insertion-ordered Map beyond `max`: the one way the library's
 * per-process caches (sign-ins seen, announcements heard, pauses, opened ciphertexts) stay
 * bounded however many sessions a process meets.
 */
export function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as K);
}

/**
 * Drops the first entries of an insertion-ordered Map while `stale` says so: for caches whose
 * entries are (re)inserted in time order, so what has expired is at the front. Keeps a cache
 * the size of what is live, not of everything it ever met.
 */
export function dropWhileFirst<K, V>(map: Map<K, V>, stale: (value: V) => boolean): void {
  for (const [key, value] of map) {
    if (!stale(value)) return;
    map.delete(key);
  }
}
