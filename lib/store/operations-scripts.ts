import type { Script } from './kv';

/**
 * The scripts of running in production, with their in-memory twins: a sign-in's start and last
 * activity (session lifetimes), the index of every member with a sign-in (ending all at an
 * uninstall), and the rate-limit counters. One key per script, so each runs on Redis Cluster.
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

/**
 * Notes a member in the index of every member with a sign-in (a sorted set: member hash -> until
 * when one of its sign-ins may live), dropping members whose sign-ins have all expired and, beyond
 * `max`, those ending soonest; the index lives as long as its longest entry.
 * KEYS: index. ARGV: member, until, now, max.
 */
export const NOTE_MEMBER: Script = {
  name: 'note member',
  lua: `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIRE', KEYS[1], math.max(1000, math.floor(tonumber(last[2]) - tonumber(ARGV[3])))) end
return 1`,
  local(kv, [key], [member, until, nowArg, maxArg]) {
    const index = kv.hashOrNew(key!);
    if (Number(index.get(member!) ?? -Infinity) < Number(until)) index.set(member!, until!);
    const now = Number(nowArg);
    for (const [m, u] of [...index]) if (Number(u) <= now) index.delete(m);
    const order = [...index].sort((a, b) => Number(a[1]) - Number(b[1]));
    for (const [m] of order.slice(0, Math.max(0, order.length - Number(maxArg)))) index.delete(m);
    const last = Math.max(0, ...[...index.values()].map(Number));
    kv.pexpire(key!, Math.max(1000, Math.floor(last - now)));
    return 1;
  },
};

/** One page of the members index whose sign-ins may still live. KEYS: index. ARGV: now, offset, count. */
export const LIST_MEMBERS: Script = {
  name: 'list members',
  lua: `return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', ARGV[2], ARGV[3])`,
  local(kv, [key], [now, offset, count]) {
    const index = kv.hash(key!);
    if (!index) return [];
    const live = [...index].filter(([, u]) => Number(u) > Number(now)).sort((a, b) => Number(a[1]) - Number(b[1]) || (a[0] < b[0] ? -1 : 1));
    return live.slice(Number(offset), Number(offset) + Number(count)).map(([m]) => m);
  },
};

/**
 * Counts one request in a fixed window: the counter is made with the window's length as its life,
 * so one key per counter and window, whatever the number of requests. Answers `[count, ms left]`.
 * KEYS: counter. ARGV: window (ms).
 */
export const COUNT_REQUEST: Script = {
  name: 'count request',
  lua: `
local n = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
return { n, left }`,
  local(kv, [key], [windowMs]) {
    const n = Number(kv.get(key!) ?? 0) + 1;
    const left = kv.pttl(key!);
    const ttl = left > 0 ? left : Number(windowMs);
    kv.set(key!, String(n), ttl);
    return [n, ttl];
  },
};

/** A counter's count and ms left, without counting. KEYS: counter. */
export const PEEK_COUNT: Script = {
  name: 'peek count',
  lua: `return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('PTTL', KEYS[1]) }`,
  local(kv, [key]) {
    return [Number(kv.get(key!) ?? 0), kv.pttl(key!)];
  },
};
