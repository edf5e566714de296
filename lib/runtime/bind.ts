import { checkShared, SHARED_OPTION_NAMES, type SharedSettingsRegistry } from '../config';
import { onlyKnown } from '../core';
import type { SpaceRuntime } from './runtime';

/**
 * What a middleware keeps of the strategy it was given: the shared settings it added to, and the
 * runtime, built from them on first use (so every middleware is created before it is read).
 */
export interface StrategyHandle {
  readonly shared: SharedSettingsRegistry;
  readonly runtime: SpaceRuntime;
}

/**
 * Shared options given to a middleware (spaceTokenRefresh, spaceSignOut, spaceAppClient, ...):
 * the `strategy` checked, the other names checked against what the middleware accepts, and the
 * shared settings added to the strategy's one copy (a value given twice must agree).
 */
export function bindShared(owner: string, options: unknown, extra: readonly string[] = []): StrategyHandle {
  if (!options || typeof options !== 'object') throw new TypeError(`${owner} requires options: { strategy }`);
  const o = options as Record<string, unknown>;
  const strategy = o.strategy as (Partial<StrategyHandle> & { refresh?: unknown }) | undefined;
  if (!strategy || typeof strategy.refresh !== 'function' || !strategy.shared) {
    throw new TypeError(`${owner} requires a "strategy" option: the SpaceStrategy instance`);
  }
  onlyKnown(owner, o, ['strategy', ...SHARED_OPTION_NAMES, ...extra]);
  strategy.shared.add(owner, checkShared(owner, o));
  return strategy as StrategyHandle;
}
