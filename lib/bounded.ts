/**
 * Drops the oldest entries of an insertion-ordered Map beyond `max`: the one way the library's
 * per-process caches (sign-ins seen, announcements heard, pauses, opened ciphertexts) stay
 * bounded however many sessions a process meets.
 */
export function trimOldest<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as K);
}
