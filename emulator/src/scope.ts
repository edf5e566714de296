/**
 * Scope arithmetic for Space's space-separated permission scopes (docs/space-api.md#scope).
 *
 * `**` means "everything the app may have", so it covers any other element. Elements are compared
 * as opaque strings: `global:Profile.View` does not imply `global:Profile.View.Basic` or the reverse,
 * since Space's permission hierarchy is not documented.
 */

/** The distinct elements of a scope string. */
export function scopeElements(scope: string): Set<string> {
  return new Set(scope.split(/\s+/).filter(Boolean));
}

/** True if a token granted `granted` may be narrowed to `requested` (RFC 6749 §6: never broader). */
export function scopeCovers(granted: string, requested: string): boolean {
  const have = scopeElements(granted);
  if (have.has('**')) return true;
  const want = scopeElements(requested);
  return want.size > 0 && [...want].every((s) => have.has(s));
}

/** True if `granted` is `**`, holds one of `anyOf`, or `anyOf` is empty (no permission needed). */
export function scopeAllows(granted: string, anyOf: readonly string[]): boolean {
  const have = scopeElements(granted);
  return anyOf.length === 0 || have.has('**') || anyOf.some((s) => have.has(s));
}
