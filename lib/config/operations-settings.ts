import { isRecord, number, onlyKnown } from '../core';

/**
 * The checks of the shared settings for running in production: how long a sign-in may live
 * (`idleTimeout`, `absoluteTimeout`) and the rate limits (`rateLimit`). Kept apart from the schema
 * so that each setting stays one line there.
 */

/** One rate limit: at most `max` requests per `windowMs` from one client address. */
export interface SpaceRateLimitRule {
  /** Requests allowed in one window. */
  max?: number;
  /** The window, ms. */
  windowMs?: number;
}

/**
 * The shared setting `rateLimit`: per-endpoint limits, each counted per client address (and per
 * member when the request names one) in Redis, so every process shares the count. `false` for an
 * endpoint turns its limit off; a limit given in part keeps the default of the rest.
 */
export interface SpaceRateLimitOptions {
  /** Sign-in starts (the start route, and the gate sending a page to Space). Default 30 per minute. */
  signIn?: SpaceRateLimitRule | false;
  /** Sign-in callbacks, counted before the state is even looked up. Default 30 per minute. */
  callback?: SpaceRateLimitRule | false;
  /** Requests `verifySpaceRequest` refused (bad or missing proof); Space's own requests never count. Default 60 per minute. */
  webhook?: SpaceRateLimitRule | false;
  /**
   * Counters per endpoint and window, at most: addresses are hashed into this many counters, so a
   * flood from many addresses never holds more keys than this. Default 65536.
   */
  buckets?: number;
}

/** A rate limit after defaults. */
export interface RateLimitRule {
  max: number;
  windowMs: number;
}

/** The endpoints that are rate limited. */
export type RateLimitedEndpoint = 'signIn' | 'callback' | 'webhook';

/** The shared setting `rateLimit` after defaults; `false` when off. */
export type RateLimits = false | {
  readonly signIn: RateLimitRule | undefined;
  readonly callback: RateLimitRule | undefined;
  readonly webhook: RateLimitRule | undefined;
  readonly buckets: number;
};

const MINUTE = 60_000;
/** Limits no person meets by hand: a flood does. */
export const DEFAULT_RATE_LIMITS: Exclude<RateLimits, false> = Object.freeze({
  signIn: Object.freeze({ max: 30, windowMs: MINUTE }),
  callback: Object.freeze({ max: 30, windowMs: MINUTE }),
  webhook: Object.freeze({ max: 60, windowMs: MINUTE }),
  buckets: 65_536,
});

const ENDPOINTS: readonly RateLimitedEndpoint[] = ['signIn', 'callback', 'webhook'];

/** `idleTimeout` / `absoluteTimeout`: 0 (off), or at least one second, in whole ms. */
export function lifetimeSetting(owner: string, name: string, value: unknown): number | undefined {
  if (value === undefined || value === 0) return value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1000) {
    throw new TypeError(`${owner} option "${name}" must be 0 (never) or a whole number of ms, at least 1000, got ${typeof value === 'number' ? value : typeof value}`);
  }
  return value;
}

/** `rateLimit`: `false`, or an object of per-endpoint limits; returns the limits after defaults. */
export function rateLimitSetting(owner: string, value: unknown): RateLimits | undefined {
  if (value === undefined) return undefined;
  if (value === false) return false;
  if (!isRecord(value)) throw new TypeError(`${owner} option "rateLimit" must be false or an object like { signIn: { max: 30, windowMs: 60000 } }`);
  onlyKnown(`${owner} option "rateLimit"`, value, [...ENDPOINTS, 'buckets']);
  const rule = (endpoint: RateLimitedEndpoint): RateLimitRule | undefined => {
    const given = value[endpoint];
    const fallback = DEFAULT_RATE_LIMITS[endpoint]!;
    if (given === undefined) return fallback;
    if (given === false) return undefined;
    if (!isRecord(given)) throw new TypeError(`${owner} option "rateLimit.${endpoint}" must be false or { max, windowMs }`);
    onlyKnown(`${owner} option "rateLimit.${endpoint}"`, given, ['max', 'windowMs']);
    // Both become parts of a Redis command (a count and a PX): whole numbers.
    const max = number(owner, `rateLimit.${endpoint}.max`, given.max, { min: 1, integer: true }) ?? fallback.max;
    const windowMs = number(owner, `rateLimit.${endpoint}.windowMs`, given.windowMs, { min: 1000, max: 86_400_000, integer: true }) ?? fallback.windowMs;
    return Object.freeze({ max, windowMs });
  };
  return Object.freeze({
    signIn: rule('signIn'),
    callback: rule('callback'),
    webhook: rule('webhook'),
    buckets: number(owner, 'rateLimit.buckets', value.buckets, { min: 1, max: 1_048_576, integer: true }) ?? DEFAULT_RATE_LIMITS.buckets,
  });
}
