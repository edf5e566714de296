import { debugOf, isRecord, scrubRedisError, type SpaceTokenEvent } from '../core';
import { redisKind } from '../store';

/* eslint-disable @typescript-eslint/no-explicit-any -- express-session's Store, typed structurally. */
type Callback = (err?: any, value?: any) => void;
interface StoreLike {
  get(sid: string, cb: Callback): void;
  set(sid: string, session: unknown, cb?: Callback): void;
  destroy(sid: string, cb?: Callback): void;
  touch?(sid: string, session: unknown, cb?: Callback): void;
}

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
 * Makes the app's session store safe to meet with damaged data and failing writes, once per
 * store:
 * - a value that is not JSON, or not a session, reads as no session (the request is anonymous
 *   and the key is deleted), never as a 500 on every request for the key's whole life;
 * - a failed write never carries the session it tried to write: ioredis quotes a command's
 *   arguments in its errors, and a session's arguments are its tokens.
 * - connect-redis 9+ given an ioredis client (every save fails with `ERR syntax error`) is
 *   named once, through `emit` (events and debug) and `process.emitWarning`.
 * The store's own API (`get`, `set`, `touch`) is wrapped, not its internals.
 */
export function guardStore(store: unknown, emit?: (event: SpaceTokenEvent) => void): void {
  if (!store || typeof store !== 'object' || guarded.has(store)) return;
  const s = store as StoreLike;
  if (typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.destroy !== 'function') return;
  guarded.add(store);
  const { get, set, touch, destroy } = s;
  s.get = function guardedGet(sid, cb) {
    get.call(this, sid, (err, value) => {
      if (err instanceof SyntaxError || (!err && value != null && !isSessionShape(value))) {
        destroy.call(this, sid, () => cb());
        return;
      }
      cb(err ? scrubRedisError(err) : err, value);
    });
  };
  s.set = function guardedSet(sid, session, cb) {
    set.call(this, sid, session, (err) => {
      if (err) noticeWrongClient(store, err, emit);
      cb?.(err ? scrubRedisError(err) : err);
    });
  };
  if (typeof touch === 'function') {
    s.touch = function guardedTouch(sid, session, cb) {
      touch.call(this, sid, session, (err) => cb?.(err ? scrubRedisError(err) : err));
    };
  }
}
