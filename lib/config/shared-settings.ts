import { parseEncryptionKeys, REDIS_EXPECTED, redisKind } from '../store';
import { describeGiven, fn, isRecord, isSpaceError, localPath, number, optionalString, type SpaceTokenEvent, watchRedis } from '../core';
import type { SpaceAuditEvent } from '../telemetry';
import { DEFAULT_RATE_LIMITS, lifetimeSetting, rateLimitSetting, type RateLimits, type SpaceRateLimitOptions } from './operations-settings';

/**
 * Settings that several parts of the library share: the Redis client, where its keys live,
 * timings, the sign-in and sign-out paths, the session cookie's name and the encryption keys.
 * A user gives each once — usually on the strategy — and every part reads it from here.
 * Giving the same setting twice with different values is a `TypeError` at start-up.
 */
export interface SpaceSharedOptions {
  /**
   * The Redis client shared by every process of the app, usually the one connect-redis uses:
   * ioredis 5/6 (`new Redis()`, Sentinel, or `new Cluster()`) or node-redis 4/5
   * (`createClient()`/`createCluster()`). Without it, pending sign-ins, the newest tokens and
   * the renewal locks live in this process's memory: fine for one process only.
   */
  redis?: unknown;
  /** Prefix of every key the library writes. Default `'space:'`. */
  keyPrefix?: string;
  /**
   * Life of the library's records (newest tokens, sign-out marks) when the session cookie
   * has no expiry of its own, ms; otherwise they live as long as the session. Default 86400000.
   */
  tokenTTL?: number;
  /** Longest wait for one Redis command, ms. Default 2000. */
  redisTimeout?: number;
  /** The path that starts a sign-in (`?returnTo=` says where to land). Default `'/auth/space'`. */
  signInPath?: string;
  /** The path of the sign-out route; renewal never blocks it. Default `'/auth/signout'`. */
  signOutPath?: string;
  /** express-session's cookie `name`, cleared at sign-out. Default `'connect.sid'`. */
  cookieName?: string;
  /**
   * Encrypts every token the library stores (AES-256-GCM): `[current, ...previous]`, each 32
   * bytes (a Buffer, or 64 hex / 44 base64 characters). The first encrypts; all decrypt.
   */
  encryptionKeys?: ReadonlyArray<string | Buffer>;
  /** Renew when the access token has less than this left, ms. Default 60000. */
  skew?: number;
  /**
   * Life of a renewal lock if its holder dies, ms. Everything done under the lock must end before
   * it expires: at least `timeout` + 3 × `redisTimeout` + 1000 (taking the lock, re-reading the
   * record, the token request, writing the result, and a margin). Default that + 1000.
   */
  lockTTL?: number;
  /**
   * After a failed renewal (Space down, or refusing our client, or answering nonsense), no process
   * asks Space to renew that sign-in again for this long, ms; at least 1000. Default 5000.
   */
  retryDelay?: number;
  /** Longest pause a `Retry-After` from Space may impose on one sign-in, ms (one shorter than `retryDelay` counts as `retryDelay`). Default 60000. */
  maxRetryAfter?: number;
  /** Receives events (renewals, failures) for your logs. Never given a token or a session id. */
  onEvent?: (event: SpaceTokenEvent) => void;
  /**
   * Receives one audit event per security-relevant fact (signed in, signed out, a sign-in ended
   * by Space, a refused renewal, team rule, bearer token or webhook...), in the stable shape of
   * {@link SpaceAuditEvent} (docs/operations.md#audit-trail). Never given a token or a session id.
   */
  onAudit?: (event: SpaceAuditEvent) => void;
  /**
   * Ends a sign-in nobody used for this long, in any process, ms (at least 1000); 0 (default)
   * never. Counted from the last request spaceTokenRefresh saw, whatever the session cookie's
   * `maxAge`; the member is then signed out as by any ended sign-in. See docs/operations.md.
   */
  idleTimeout?: number;
  /**
   * Ends a sign-in this long after it started, however much it is used, ms (at least 1000);
   * 0 (default) never. See docs/operations.md.
   */
  absoluteTimeout?: number;
  /**
   * Rate limits of the sign-in start, the callback and verifySpaceRequest, per client address
   * (`req.ip`, so set Express's `trust proxy` behind a proxy) and per member when known, counted
   * in Redis across processes. On by default with limits no person meets; `false` turns them off;
   * an object tunes them. See docs/operations.md.
   */
  rateLimit?: false | SpaceRateLimitOptions;
}

/** What is left of `lockTTL` after every step under the renewal lock, ms: the lock never expires mid-renewal. */
export const LOCK_MARGIN = 1000;

/**
 * The shortest `lockTTL` that holds every step under the renewal lock, each at its own deadline:
 * taking the lock (a Redis command), re-reading the record (another), the token request
 * (`timeout`), writing the result (a third), and {@link LOCK_MARGIN}.
 */
export function leastLockTTL(timeout: number, redisTimeout: number): number {
  return timeout + 3 * redisTimeout + LOCK_MARGIN;
}

const DEFAULT_REDIS_TIMEOUT = 2000;

/** The shortest pause after a failed renewal, ms: the least `retryDelay` accepts. */
export const MIN_RETRY_DELAY = 1000;

/**
 * How long a failed token request (a renewal, or the application's own token) pauses the next
 * one, ms: `retryDelay`, or the answer's `Retry-After` when longer, capped at `maxRetryAfter`.
 * Never below {@link MIN_RETRY_DELAY}: a `Retry-After: 0`, a date in the past, or a failure with
 * no `Retry-After` at all (a 401, a proxy's page) cannot turn the pause off.
 */
export function pauseAfterFailure(err: unknown, retryDelay: number, maxRetryAfter: number): number {
  const asked = isSpaceError(err) && err.retryAfter !== undefined ? err.retryAfter * 1000 : 0;
  return Math.max(retryDelay, Math.min(asked, maxRetryAfter), MIN_RETRY_DELAY);
}

/** The shared settings after defaults. */
export interface SharedSettings {
  redis: unknown;
  keyPrefix: string;
  tokenTTL: number;
  redisTimeout: number;
  signInPath: string;
  signOutPath: string;
  cookieName: string;
  encryptionKeys: Buffer[];
  skew: number;
  lockTTL: number;
  retryDelay: number;
  maxRetryAfter: number;
  onEvent: ((event: SpaceTokenEvent) => void) | undefined;
  onAudit: ((event: SpaceAuditEvent) => void) | undefined;
  idleTimeout: number;
  absoluteTimeout: number;
  rateLimit: RateLimits;
}

type Given = Partial<Record<keyof SharedSettings, unknown>>;

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return a.equals(b);
  // Settings given as objects (rateLimit) agree when they say the same.
  if (isRecord(a) && isRecord(b)) return same(Object.keys(a).sort(), Object.keys(b).sort()) && Object.keys(a).every((k) => same(a[k], b[k]));
  return false;
}

/** How one shared setting enters: its check (a TypeError naming the owner), and its default. */
interface Entry<T> {
  check(owner: string, value: unknown): T | undefined;
  fallback(given: Partial<SharedSettings>, timeout: number): T;
}

function redisClient(owner: string, value: unknown): unknown {
  if (value === undefined) return undefined;
  if (!redisKind(value)) throw new TypeError(`${owner} option "redis" must be ${REDIS_EXPECTED}, got ${describeGiven(value)}`);
  // From start-up on: a later "not writeable" can then say whether Redis was lost or never connected.
  watchRedis(value);
  return value;
}

/**
 * Every shared setting, one line each: name -> check -> default. Adding a setting here adds it to
 * every part that takes shared settings (and to the unknown-name check), documented in
 * {@link SpaceSharedOptions} and {@link SharedSettings}.
 */
const SHARED: { [K in keyof SharedSettings]: Entry<SharedSettings[K]> } = {
  redis: { check: redisClient, fallback: () => undefined },
  keyPrefix: { check: (owner, v) => optionalString(owner, 'keyPrefix', v, '"space:"'), fallback: () => 'space:' },
  tokenTTL: { check: (owner, v) => number(owner, 'tokenTTL', v, { min: 1000, integer: true }), fallback: () => 86_400_000 },
  redisTimeout: { check: (owner, v) => number(owner, 'redisTimeout', v, { min: 10, integer: true }), fallback: () => DEFAULT_REDIS_TIMEOUT },
  signInPath: { check: (owner, v) => localPath(owner, 'signInPath', v), fallback: () => '/auth/space' },
  signOutPath: { check: (owner, v) => localPath(owner, 'signOutPath', v), fallback: () => '/auth/signout' },
  cookieName: { check: (owner, v) => optionalString(owner, 'cookieName', v, '"connect.sid"'), fallback: () => 'connect.sid' },
  encryptionKeys: { check: (owner, v) => (v === undefined ? undefined : parseEncryptionKeys(owner, v)), fallback: () => [] },
  skew: { check: (owner, v) => number(owner, 'skew', v, { min: 0, integer: true }), fallback: () => 60_000 },
  // At least every step under the renewal lock (SharedSettingsRegistry.add checks a given one); by default 1 s more.
  lockTTL: { check: (owner, v) => number(owner, 'lockTTL', v, { min: 100, integer: true }), fallback: (given, timeout) => leastLockTTL(timeout, given.redisTimeout ?? DEFAULT_REDIS_TIMEOUT) + 1000 },
  // A failed renewal always pauses its sign-in: 0 would mean one token request per request.
  retryDelay: { check: (owner, v) => number(owner, 'retryDelay', v, { min: MIN_RETRY_DELAY, integer: true }), fallback: () => 5000 },
  maxRetryAfter: { check: (owner, v) => number(owner, 'maxRetryAfter', v, { min: 0, integer: true }), fallback: () => 60_000 },
  onEvent: { check: (owner, v) => fn<(event: SpaceTokenEvent) => void>(owner, 'onEvent', v), fallback: () => undefined },
  onAudit: { check: (owner, v) => fn<(event: SpaceAuditEvent) => void>(owner, 'onAudit', v), fallback: () => undefined },
  idleTimeout: { check: (owner, v) => lifetimeSetting(owner, 'idleTimeout', v), fallback: () => 0 },
  absoluteTimeout: { check: (owner, v) => lifetimeSetting(owner, 'absoluteTimeout', v), fallback: () => 0 },
  rateLimit: { check: rateLimitSetting, fallback: () => DEFAULT_RATE_LIMITS },
};

/** Every shared option name: each part that takes shared settings accepts these. */
export const SHARED_OPTION_NAMES = Object.keys(SHARED) as ReadonlyArray<keyof SharedSettings>;

/** Checks the shared options one part was given; returns only those it was given. */
export function checkShared(owner: string, o: Record<string, unknown>): Given {
  const given: Given = {};
  for (const name of SHARED_OPTION_NAMES) {
    const value = (SHARED[name] as Entry<unknown>).check(owner, o[name]);
    if (value !== undefined) given[name] = value;
  }
  return given;
}

/**
 * The one place the shared settings live, held by the strategy. Parts add what they were
 * given; a value given twice must agree. Once the library has started using them (the first
 * request), they are fixed.
 */
export class SharedSettingsRegistry {
  private readonly given: Given = {};
  private readonly from: Partial<Record<keyof SharedSettings, string>> = {};
  private resolved: SharedSettings | undefined;

  constructor(private readonly timeout: number) {}

  add(owner: string, given: Given): void {
    this.checkLockTTL(owner, given);
    for (const [name, value] of Object.entries(given) as Array<[keyof SharedSettings, unknown]>) {
      if (value === undefined) continue;
      if (name in this.given) {
        if (!same(this.given[name], value)) {
          throw new TypeError(`"${name}" is given to ${this.from[name]} and to ${owner} with different values; give it once, on the SpaceStrategy`);
        }
        continue;
      }
      if (this.resolved) throw new TypeError(`${owner} option "${name}" comes after the first request; create every middleware before the app starts serving`);
      this.given[name] = value;
      this.from[name] = owner;
    }
  }

  /**
   * A renewal must never outlive its lock: otherwise a second process could refresh with the same
   * refresh token, and a rotating Space would revoke the whole grant. So a `lockTTL` given
   * explicitly must hold every step under the lock; checked whichever part gives `lockTTL` or
   * `redisTimeout`, and in whichever order.
   */
  private checkLockTTL(owner: string, given: Given): void {
    const lockTTL = (this.given.lockTTL ?? given.lockTTL) as number | undefined;
    if (lockTTL === undefined) return;
    const redisTimeout = (this.given.redisTimeout ?? given.redisTimeout ?? DEFAULT_REDIS_TIMEOUT) as number;
    const least = leastLockTTL(this.timeout, redisTimeout);
    if (lockTTL >= least) return;
    const from = (name: 'lockTTL' | 'redisTimeout') => (this.given[name] !== undefined ? this.from[name] : given[name] !== undefined ? owner : undefined);
    const redisFrom = from('redisTimeout');
    throw new TypeError(`${from('lockTTL') ?? owner} option "lockTTL" (${lockTTL} ms) must be at least the strategy's "timeout" + 3 × "redisTimeout" + ${LOCK_MARGIN} ms `
      + `(${this.timeout} + 3 × ${redisTimeout}${redisFrom ? ` from ${redisFrom}` : ' (default)'} + ${LOCK_MARGIN} = ${least} ms): taking the lock, re-reading the record, `
      + 'the token request and writing the result must all end before the lock expires; raise "lockTTL", or lower "timeout" or "redisTimeout"');
  }

  /** The settings with defaults; fixed from the first call on. */
  get settings(): SharedSettings {
    if (this.resolved) return this.resolved;
    const given = this.given as Partial<SharedSettings>;
    const resolved: Record<string, unknown> = {};
    for (const name of SHARED_OPTION_NAMES) resolved[name] = given[name] ?? SHARED[name].fallback(given, this.timeout);
    this.resolved = Object.freeze(resolved) as unknown as SharedSettings;
    return this.resolved;
  }

  /** Where a setting came from, for messages. */
  origin(name: keyof SharedSettings): string | undefined {
    return this.from[name];
  }
}
