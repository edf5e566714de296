import { number } from '../core';

/**
 * The checks of the shared settings for running in production: how long a sign-in may live
 * (`idleTimeout`, `absoluteTimeout`). Kept apart from the schema so that each setting stays one
 * line there.
 */

/** `idleTimeout` / `absoluteTimeout`: 0 (off), or at least one second, in whole ms. */
export function lifetimeSetting(owner: string, name: string, value: unknown): number | undefined {
  if (value === 0) return 0;
  return number(owner, name, value, { min: 1000, integer: true });
}
