/**
 * Scopes that parts created at start-up add to a strategy's own (spaceAuthorize needs
 * `global:Profile.Memberships.View`): possible until the strategy serves its first request, when
 * what it asks Space for is fixed.
 */

/** A strategy that can still take a scope: SpaceStrategy. */
export interface ScopeHost {
  /** Adds `scope` to what every sign-in asks for; false (nothing changed) once the strategy serves. */
  addScope(scope: string): boolean;
}

/** Strategies of this process that have not served a request yet (weakly held: never kept alive by this list). */
const unstarted = new Set<WeakRef<ScopeHost>>();

/** Called by each strategy as it is made. */
export function registerUnstarted(host: ScopeHost): void {
  unstarted.add(new WeakRef(host));
}

/**
 * Adds `scope` to every strategy of this process that has not served a request yet: what a part
 * created at start-up without a `strategy` option (it serves whichever strategy a request is bound
 * to) does. Returns how many took it.
 */
export function addScopeToUnstarted(scope: string): number {
  let added = 0;
  for (const ref of unstarted) {
    const host = ref.deref();
    if (host && host.addScope(scope)) added++;
    else unstarted.delete(ref);
  }
  return added;
}

/** `scope` with `extra` added (space-separated, each once). */
export function withScope(scope: string, extra: string): string {
  const parts = scope.split(/\s+/).filter(Boolean);
  for (const s of extra.split(/\s+/)) if (s && !parts.includes(s)) parts.push(s);
  return parts.join(' ');
}
