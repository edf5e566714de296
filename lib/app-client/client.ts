import { createHash } from 'node:crypto';
import { kvFor, REDIS_EXPECTED, redisKind, SharedClock } from '../store';
import { KVAppTokenStore, type AppTokenStore, type CachedAppToken } from './token-store';
import { bindShared } from '../runtime';
import { isExpiredTokenError, type SpaceApiCallOptions, SpaceClient } from '../space';
import type { SpaceStrategy } from '../strategy';
import { describeGiven, isSpaceError, number, onlyKnown, type SpaceError, SpaceTokenError, spaceURLWithoutPath } from '../core';
import { pauseAfterFailure } from '../config';

/** The application's own access token (Client Credentials, RFC 6749 §4.4). */
export interface SpaceAppToken {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** `'Bearer'`. */
  tokenType: string;
  /** The granted scope (what Space said, or what was asked for). */
  scope: string;
}

/** Options of {@link spaceAppClient}. */
export interface SpaceAppClientOptions {
  /** The sign-in strategy, for its Space URL, client credentials and timeout. Or give those three below. */
  strategy?: SpaceStrategy;
  spaceURL?: string;
  clientID?: string;
  clientSecret?: string;
  /** Timeout of every call to Space, ms; default the strategy's, else 10000. */
  timeout?: number;
  /** Scope asked for, a string or an array; default `**` (everything granted to the app). */
  scope?: string | string[];
  /**
   * The shared Redis client (ioredis or node-redis): then one token request serves every
   * process, not just this one. With `strategy`, the strategy's shared `redis` is used and
   * this, like `keyPrefix`, `skew`, `lockTTL` and `redisTimeout`, must agree with it.
   */
  redis?: unknown;
  /** Prefix of the Redis keys; default the shared `keyPrefix` (`'space:'`). */
  keyPrefix?: string;
  /** Renew this long before expiry, ms (capped at half the token's lifetime); default the shared `skew` (60000). */
  skew?: number;
  /** How long the cross-process lock lives if its holder dies, ms; default timeout + 5000 (it must outlive a token request). */
  lockTTL?: number;
  /** Longest wait for one Redis command, ms; default 2000. */
  redisTimeout?: number;
  /** A store of your own instead of `redis` (see `AppTokenStore`). */
  store?: AppTokenStore;
}

/** Every option name spaceAppClient accepts; any other is a TypeError. */
export const APP_CLIENT_OPTION_NAMES = [
  'strategy', 'spaceURL', 'clientID', 'clientSecret', 'timeout', 'scope', 'redis', 'keyPrefix', 'skew', 'lockTTL', 'redisTimeout', 'store',
] as const;

/** Space's HTTP API as the application itself. Paths are relative to `/api/http/`. */
export interface SpaceAppClient {
  /** A valid token: cached, renewed `skew` before expiry, one token request per burst (across processes with Redis). */
  token(): Promise<SpaceAppToken>;
  get<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  request<T = unknown>(method: string, path: string, options?: SpaceApiCallOptions): Promise<T>;
}

/** A store failure, told apart from Space's own errors: the client then works without the store. */
class StoreDown extends Error {}

const POLL_MS = 40;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function option(name: string, expected: string): never {
  throw new TypeError(`spaceAppClient option "${name}" must be ${expected}`);
}

/** A duration, through the library's one validator; `integer` where it becomes a Redis `PX`. */
function millis(value: unknown, name: string, fallback: number, min = 0, integer = false): number {
  return number('spaceAppClient', name, value, { min, integer }) ?? fallback;
}

function resolveClient(options: SpaceAppClientOptions): { client: SpaceClient; spaceURL: string; clientID: string; timeout: number } {
  if (options.strategy !== undefined) {
    const settings = options.strategy?.settings;
    if (!settings || typeof settings.spaceURL !== 'string') option('strategy', 'a SpaceStrategy');
    const timeout = millis(options.timeout, 'timeout', settings.timeout, 1);
    const client = options.timeout === undefined ? options.strategy.client : new SpaceClient({ ...settings, timeout });
    return { client, spaceURL: settings.spaceURL, clientID: settings.clientID, timeout };
  }
  for (const name of ['spaceURL', 'clientID', 'clientSecret'] as const) {
    if (typeof options[name] !== 'string' || options[name] === '') option(name, 'a non-empty string (or pass "strategy")');
  }
  if (!URL.canParse(options.spaceURL!)) option('spaceURL', 'an absolute URL like "https://acme.jetbrains.space"');
  spaceURLWithoutPath('spaceAppClient', options.spaceURL!);
  const spaceURL = options.spaceURL!.replace(/\/+$/, '');
  const timeout = millis(options.timeout, 'timeout', 10_000, 1);
  return { client: new SpaceClient({ spaceURL, clientID: options.clientID!, clientSecret: options.clientSecret!, timeout }), spaceURL, clientID: options.clientID!, timeout };
}

/**
 * Space's HTTP API as the application itself, with a Client Credentials token (HTTP Basic,
 * `grant_type=client_credentials`, scope `**` by default). The token is cached until shortly
 * before it expires; concurrent callers share one token request, and with `redis` so do other
 * processes (a short `SET NX PX` lock, the others wait for the winner's token). No refresh token
 * is kept: a new token is fetched instead. When Space says "Access token has expired" before our
 * clock does, the call is retried once with a new token. The token never appears in a key name,
 * a log line or an error message.
 *
 * ```ts
 * const app = spaceAppClient({ strategy, redis });
 * const me = await app.get('applications/me');
 * ```
 */
export function spaceAppClient(options: SpaceAppClientOptions): SpaceAppClient {
  if (typeof options !== 'object' || options === null) throw new TypeError('spaceAppClient requires options, e.g. { strategy }');
  onlyKnown('spaceAppClient', options, APP_CLIENT_OPTION_NAMES);
  const { client, spaceURL, clientID, timeout } = resolveClient(options);
  const scopeOption = options.scope ?? '**';
  const scope = (Array.isArray(scopeOption) ? scopeOption.join(' ') : scopeOption);
  if (typeof scope !== 'string' || scope.trim() === '') option('scope', 'a non-empty string or array of strings');
  const id = createHash('sha256').update(`${spaceURL}\n${clientID}\n${scope}`).digest('hex').slice(0, 16);
  let skew: number;
  let storeOf: () => AppTokenStore | undefined;
  // Token times kept in a shared store are in Redis's clock, as a sign-in's are (clock.ts).
  let clockOf: () => SharedClock | undefined = () => undefined;
  let lockTTL: number;
  // After a failed token request, how long nobody asks again (the renewal engine's rule).
  let retryDelay = 5000;
  let maxRetryAfter = 60_000;
  if (options.strategy) {
    // One configuration: Redis, prefix, timings and encryption keys are the strategy's.
    const { strategy, redis, keyPrefix, skew: s, lockTTL: l, redisTimeout } = options;
    bindShared('spaceAppClient', { strategy, redis, keyPrefix, skew: s, lockTTL: l, redisTimeout });
    const settings = strategy.shared.settings;
    skew = settings.skew;
    lockTTL = settings.lockTTL;
    retryDelay = settings.retryDelay;
    maxRetryAfter = settings.maxRetryAfter;
    let made: AppTokenStore | undefined;
    storeOf = () => {
      if (options.store) return options.store;
      const runtime = strategy.runtime;
      if (!runtime.kv.shared) return undefined;
      return (made ??= new KVAppTokenStore(runtime.kv, { prefix: settings.keyPrefix, id, lockTTL, encryption: settings.encryptionKeys }));
    };
    clockOf = () => (strategy.runtime.kv.shared ? strategy.runtime.clock : undefined);
  } else {
    skew = millis(options.skew, 'skew', 60_000);
    lockTTL = millis(options.lockTTL, 'lockTTL', timeout + 5000, 1, true);
    const prefix = options.keyPrefix ?? 'space:';
    if (typeof prefix !== 'string') option('keyPrefix', 'a string');
    if (options.redis !== undefined && !redisKind(options.redis)) option('redis', `${REDIS_EXPECTED}, got ${describeGiven(options.redis)}`);
    const kv = options.redis === undefined ? undefined : kvFor(options.redis, millis(options.redisTimeout, 'redisTimeout', 2000, 1, true));
    const store = options.store ?? (kv ? new KVAppTokenStore(kv, { prefix, id, lockTTL, encryption: [] }) : undefined);
    storeOf = () => store;
    const clock = kv ? new SharedClock(() => kv.time()) : undefined;
    clockOf = () => {
      void clock?.start(); // measured once, lazily: no Redis call at construction
      return clock;
    };
  }
  if (lockTTL <= timeout) option('lockTTL', `longer than the timeout (${timeout} ms), so the lock outlives a token request`);

  const now = () => clockOf()?.now() ?? Date.now();
  let current: CachedAppToken | undefined;
  let inflight: Promise<CachedAppToken> | undefined;

  /** Fresh enough to use, and not the token Space just refused. */
  const usable = (t: CachedAppToken | undefined, refused?: string): t is CachedAppToken => {
    if (!t || t.accessToken === refused) return false;
    const lifetime = Math.max(0, t.expiresAt - t.issuedAt);
    return t.expiresAt - now() > Math.min(skew, lifetime / 2);
  };

  /** No token request before this (epoch ms): a request failed, here or (through the store) elsewhere. */
  let pausedUntil = 0;
  let lastFailure: SpaceError | undefined;
  /** What a call gets while token requests are paused: the last failure, and when to try again. */
  const paused = (): SpaceTokenError => {
    const retryAfter = Math.max(1, Math.ceil((pausedUntil - Date.now()) / 1000));
    const last = lastFailure;
    return new SpaceTokenError(`${last ? last.message : 'The application token request failed in another process'}; not asked again for ${retryAfter} s`, {
      code: last?.code ?? 'SPACE_UNAVAILABLE', status: last?.status, error: last?.error, errorDescription: last?.errorDescription, retryAfter, cause: last,
    });
  };

  /**
   * One token request, unless a failure paused them: every failure (Space down, or refusing our
   * client after a secret rotation) leaves Space alone for `retryDelay`, or a longer
   * `Retry-After` (at most `maxRetryAfter`), rather than costing one token request per call.
   */
  const fetchToken = async (): Promise<CachedAppToken> => {
    if (Date.now() < pausedUntil) throw paused();
    let answer: Awaited<ReturnType<typeof client.token>>;
    try {
      answer = await client.token({ grant_type: 'client_credentials', scope }, scope);
    } catch (err) {
      pausedUntil = Date.now() + pauseAfterFailure(err, retryDelay, maxRetryAfter);
      lastFailure = isSpaceError(err) ? err : undefined;
      throw err;
    }
    // A refresh token, should Space send one, is dropped on purpose (RFC 6749 §4.4.3).
    const { accessToken, expiresAt, tokenType } = answer.tokens;
    const shift = clockOf()?.skewToShared ?? 0;
    return { accessToken, expiresAt: expiresAt + shift, tokenType, issuedAt: answer.issuedAt + shift, scope: answer.tokens.scope ?? scope };
  };

  const shared = <T>(run: () => Promise<T>): Promise<T> => run().catch((err: unknown) => {
    throw new StoreDown(err instanceof Error ? err.message : String(err));
  });

  /** Waits for the lock holder's token; undefined when the lock went away without one. */
  const waitForWinner = async (store: AppTokenStore, refused?: string): Promise<CachedAppToken | undefined> => {
    const deadline = Date.now() + lockTTL;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      const cached = await shared(() => store.read());
      if (usable(cached, refused)) return cached;
      if (!(await shared(() => store.isLocked()))) return undefined;
    }
    return undefined;
  };

  const obtainShared = async (store: AppTokenStore, refused?: string): Promise<CachedAppToken> => {
    for (let round = 0; round < 3; round += 1) {
      const cached = await shared(() => store.read());
      if (usable(cached, refused)) return cached;
      // Another process's token request failed a moment ago: leave Space alone too.
      const left = store.pausedFor ? await shared(() => store.pausedFor!()) : 0;
      if (left > 0) {
        if (Date.now() >= pausedUntil) lastFailure = undefined; // not this process's failure
        pausedUntil = Math.max(pausedUntil, Date.now() + left);
        throw paused();
      }
      const lock = await shared(() => store.lock());
      if (lock === undefined) {
        const won = await waitForWinner(store, refused);
        if (won) return won;
        continue;
      }
      let fresh: CachedAppToken;
      try {
        // Written between our read and our lock by a process that just finished?
        const again = await shared(() => store.read());
        fresh = usable(again, refused) ? again : await fetchToken();
      } catch (err) {
        // The pause this failure set, for every process; released with the lock in one step.
        const release = store.pause && Date.now() < pausedUntil ? store.pause(pausedUntil - Date.now(), lock) : store.unlock(lock);
        await release.catch(() => store.unlock(lock)).catch(() => undefined);
        throw err;
      }
      // A token that Redis could not keep is still good for this process.
      await store.write(fresh, fresh.expiresAt - now(), lock).catch(() => undefined);
      return fresh;
    }
    // The lock holders kept failing: fetch our own rather than wait forever.
    return fetchToken();
  };

  const obtain = async (refused?: string): Promise<CachedAppToken> => {
    const store = storeOf();
    if (!store) return fetchToken();
    try {
      return await obtainShared(store, refused);
    } catch (err) {
      if (err instanceof StoreDown) return fetchToken();
      throw err;
    }
  };

  /** One renewal at a time in this process; a forced one (after Space refused `refused`) never returns that token. */
  const renew = async (refused?: string): Promise<CachedAppToken> => {
    for (;;) {
      inflight ??= obtain(refused).then((t) => (current = t)).finally(() => { inflight = undefined; });
      const token = await inflight;
      if (token.accessToken !== refused) return token;
    }
  };

  const valid = async (): Promise<CachedAppToken> => (usable(current) ? current : renew());

  const request = async <T>(method: string, path: string, callOptions: SpaceApiCallOptions = {}): Promise<T> => {
    const token = await valid();
    try {
      return (await client.api(token.accessToken, method, path, callOptions)).json as T;
    } catch (err) {
      if (!isExpiredTokenError(err)) throw err;
      const renewed = await renew(token.accessToken);
      return (await client.api(renewed.accessToken, method, path, callOptions)).json as T;
    }
  };

  return {
    async token() {
      const { accessToken, expiresAt, tokenType, scope: granted } = await valid();
      return { accessToken, expiresAt: expiresAt - (clockOf()?.skewToShared ?? 0), tokenType, scope: granted };
    },
    request,
    get: (path, o) => request('GET', path, o),
    delete: (path, o) => request('DELETE', path, o),
    post: (path, body, o) => request('POST', path, { ...o, body }),
    patch: (path, body, o) => request('PATCH', path, { ...o, body }),
  };
}
