import { debugOf, isRecord, scrubRedisError, type SpaceTokenEvent } from '../core';
import { redisKind } from '../store';

/* eslint-disable @typescript-eslint/no-explicit-any -- express-session's Store, typed structurally. */
type Callback = (err?: any, value?: any) => void;
type Method = (this: unknown, ...args: any[]) => unknown;
type StoreLike = Record<string, unknown> & { get: Method; set: Method; destroy: Method };

/**
 * Every method of an express-session store that talks to its backend: the required ones, the
 * optional ones, and those of connect-redis. Each is wrapped the same way (see {@link guardStore}).
 */
const STORE_METHODS = ['get', 'set', 'destroy', 'touch', 'all', 'length', 'clear', 'ids'] as const;

const guarded = new WeakSet<object>();
const warned = new WeakSet<object>();

/** What an app with connect-redis 9+ on an ioredis client is told, once per store. */
export const CONNECT_REDIS_IOREDIS = 'connect-redis 9+ takes only node-redis (`redis` v5); with ioredis use connect-redis 8 (`npm install connect-redis@8`)';

/**
 * connect-redis 9 writes `SET key value { expiration: ... }` the node-redis way; ioredis sends
 * that object as arguments and Redis answers `ERR syntax error` to every save, so nobody can
 * sign in. Say so once, loudly, instead of leaving a bare 500 to puzzle over.
 */
function noticeWrongClient(store: object, err: unknown, emit: ((event: SpaceTokenEvent) => void) | undefined): void {
  if (warned.has(store) || !(err instanceof Error) || !/^ERR syntax error/.test(err.message)) return;
  const kind = redisKind((store as { client?: unknown }).client);
  if (kind !== 'ioredis' && kind !== 'ioredis-cluster') return;
  warned.add(store);
  if (emit) emit({ event: 'store.misconfigured', message: CONNECT_REDIS_IOREDIS });
  else debugOf('store')(`store.misconfigured - ${CONNECT_REDIS_IOREDIS}`);
  process.emitWarning(CONNECT_REDIS_IOREDIS, { code: 'PASSPORT_JETBRAINS_SPACE_STORE' });
}

/** A value express-session can turn back into a session: an object with a cookie object. */
function isSessionShape(value: unknown): boolean {
  return isRecord(value) && isRecord(value.cookie);
}

/**
 * Makes the app's session store safe to meet with damaged data and failing commands, once per
 * store. One wrapper goes around every method the store has of {@link STORE_METHODS}: whatever
 * error a method answers (through its callback or its promise) is scrubbed first, so no Redis
 * error carries the command's arguments (ioredis quotes them: a session's key is its id, a
 * session's value its tokens) to express-session, an error handler or a logger. On top of that:
 * - `get`: a value that is not JSON, or not a session, reads as no session (the request is
 *   anonymous and the key is deleted), never as a 500 on every request for the key's whole life;
 * - `set`: connect-redis 9+ given an ioredis client (every save fails with `ERR syntax error`)
 *   is named once, through `emit` (events and debug) and `process.emitWarning`.
 * The store's own API is wrapped, not its internals.
 */
export function guardStore(store: unknown, emit?: (event: SpaceTokenEvent) => void): void {
  if (!store || typeof store !== 'object' || guarded.has(store)) return;
  const s = store as StoreLike;
  if (typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.destroy !== 'function') return;
  guarded.add(store);
  const destroy = s.destroy;
  /** What a method's callback gets, after the scrub: each method's own rule, or the answer as it is. */
  const after: Partial<Record<(typeof STORE_METHODS)[number], (self: unknown, args: unknown[], cb: Callback, err: unknown, value: unknown) => void>> = {
    get(self, [sid], cb, err, value) {
      if (err instanceof SyntaxError || (!err && value != null && !isSessionShape(value))) {
        destroy.call(self, sid, () => cb());
        return;
      }
      cb(err, value);
    },
    set(_self, _args, cb, err) {
      if (err) noticeWrongClient(store, err, emit);
      cb(err);
    },
  };
  for (const name of STORE_METHODS) {
    const method = s[name];
    if (typeof method !== 'function') continue;
    const own = after[name];
    s[name] = function guardedStoreMethod(this: unknown, ...args: unknown[]): unknown {
      const last = args.length - 1;
      const cb = typeof args[last] === 'function' ? (args[last] as Callback) : undefined;
      if (cb) {
        args[last] = (err: unknown, ...rest: unknown[]) => {
          if (err) scrubRedisError(err);
          if (own) own(this, args, cb, err, rest[0]);
          else cb(err, ...rest);
        };
      }
      const result = (method as Method).apply(this, args);
      // Without a callback, a promise-style store rejects instead: scrubbed the same way.
      if (!cb && result && typeof (result as Promise<unknown>).then === 'function') {
        return (result as Promise<unknown>).then(undefined, (err: unknown) => { throw scrubRedisError(err); });
      }
      return result;
    };
  }
}
