import type { Script } from './kv';

/**
 * The scripts of running in production, with their in-memory twins: a sign-in's start and last
 * activity (session lifetimes). One key per script, so each runs on Redis Cluster.
 */

/**
 * A sign-in's start and last activity (`<prefix>{<grant>}:life`, a hash `start`, `last`), made
 * with `now` for both if absent; its life set to `ttl` when made. Answers `[start, last]`.
 * KEYS: life. ARGV: now, ttl (ms).
 */
export const READ_LIFE: Script = {
  name: 'read life',
  lua: `
local start = redis.call('HGET', KEYS[1], 'start')
if not start then
  redis.call('HSET', KEYS[1], 'start', ARGV[1], 'last', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return { ARGV[1], ARGV[1] }
end
return { start, redis.call('HGET', KEYS[1], 'last') or start }`,
  local(kv, [key], [now, ttl]) {
    const hash = kv.hash(key!);
    const start = hash?.get('start');
    if (!hash || start === undefined) {
      const made = kv.hashOrNew(key!);
      made.set('start', now!);
      made.set('last', now!);
      kv.pexpire(key!, Number(ttl));
      return [now, now];
    }
    return [start, hash.get('last') ?? start];
  },
};

/**
 * Records activity: `last` moves forwards only (`now` is in Redis's clock, but processes write in
 * any order); `start` is set if missing (the key had expired); the key lives `ttl` more.
 * KEYS: life. ARGV: now, ttl (ms).
 */
export const TOUCH_LIFE: Script = {
  name: 'touch life',
  lua: `
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if tonumber(ARGV[1]) > last then redis.call('HSET', KEYS[1], 'last', ARGV[1]) end
redis.call('HSETNX', KEYS[1], 'start', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`,
  local(kv, [key], [now, ttl]) {
    const hash = kv.hashOrNew(key!);
    if (Number(now) > Number(hash.get('last') ?? 0)) hash.set('last', now!);
    if (!hash.has('start')) hash.set('start', now!);
    kv.pexpire(key!, Number(ttl));
    return 1;
  },
};
