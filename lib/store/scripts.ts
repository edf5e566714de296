import type { LocalData, Script } from './kv';

/**
 * The library's Lua scripts and their in-memory twins. Each touches the keys of one sign-in
 * (or one session) only, and those share a `{hash tag}`, so every script runs on Redis Cluster.
 */

function versionOf(raw: string | null): number | undefined {
  if (!raw) return undefined;
  try {
    const v = Number((JSON.parse(raw) as { version?: unknown }).version);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function releaseLocal(kv: LocalData, lockKey: string, token: string): void {
  if (token !== '' && kv.get(lockKey) === token) kv.del(lockKey);
}

/**
 * Writes a sign-in's record only if it is newer than the one stored (versions never go
 * backwards; a sign-out mark has the highest version), then releases the renewal lock if it
 * is still ours — in one atomic step. A record never lives shorter than it already did.
 * Answers 1 when written, 0 when refused.
 * KEYS: record, lock. ARGV: value, version, ttl (ms), lock token ('' for none).
 */
export const WRITE_RECORD: Script = {
  name: 'write record',
  lua: `
local current = redis.call('GET', KEYS[1])
local written = 1
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.version) and tonumber(decoded.version) >= tonumber(ARGV[2]) then
    written = 0
  end
end
if written == 1 then
  -- Never shorter than it already lives: a record shared by several sign-ins (a member's
  -- consent) lives as long as the longest of them.
  local ttl = tonumber(ARGV[3])
  local left = redis.call('PTTL', KEYS[1])
  if left > ttl then ttl = left end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return written`,
  local(kv, [record, lock], [value, version, ttl, token]) {
    const current = versionOf(kv.get(record!));
    const written = current !== undefined && current >= Number(version) ? 0 : 1;
    if (written) kv.set(record!, value!, Math.max(Number(ttl), kv.pttl(record!)));
    releaseLocal(kv, lock!, token!);
    return written;
  },
};

/**
 * Ends a sign-in and answers what its record held just before, in one atomic step: the end
 * mark is written unless one is there already (it keeps its expiry then), the renewal lock is
 * released if it is still ours, and the previous value comes back (nil when there was none) so
 * the caller can revoke the newest tokens without reading them first.
 * KEYS: record, lock. ARGV: end mark, its version, ttl (ms), lock token ('' for none).
 */
export const END_RECORD: Script = {
  name: 'end record',
  lua: `
local current = redis.call('GET', KEYS[1])
local ended = false
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.version) and tonumber(decoded.version) >= tonumber(ARGV[2]) then
    ended = true
  end
end
if not ended then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3]) end
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return current`,
  local(kv, [record, lock], [value, version, ttl, token]) {
    const current = kv.get(record!);
    const stored = versionOf(current);
    if (stored === undefined || stored < Number(version)) kv.set(record!, value!, Number(ttl));
    releaseLocal(kv, lock!, token!);
    return current;
  },
};

/**
 * A sign-in's record and how long its renewals are still paused after a failure, in one round
 * trip. Answers `[value or '', ms left]` (ms left below 1 when there is no pause).
 * KEYS: record, pause.
 */
export const READ_WITH_PAUSE: Script = {
  name: 'read record and pause',
  lua: `return { redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[2]) }`,
  local(kv, [record, pause]) {
    return [kv.get(record!) ?? '', kv.pttl(pause!)];
  },
};

/** Ms left before a key expires (below 1 when it does not exist or has no TTL). KEYS: the key. */
export const PAUSE_LEFT: Script = {
  name: 'pause left',
  lua: `return redis.call('PTTL', KEYS[1])`,
  local(kv, [key]) {
    return kv.pttl(key!);
  },
};

/** Deletes the lock if it still holds our token. KEYS: lock. ARGV: token. */
export const RELEASE_LOCK: Script = {
  name: 'release lock',
  lua: `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
  local(kv, [lock], [token]) {
    const held = kv.get(lock!) === token;
    if (held) kv.del(lock!);
    return held ? 1 : 0;
  },
};

/**
 * Deletes a lock with no TTL, or with more TTL left than `max`: never one of ours.
 * KEYS: lock. ARGV: max (ms). The memory store's locks are all ours (always with a TTL).
 */
export const CLEAR_STRAY_LOCK: Script = {
  name: 'clear stray lock',
  lua: `local t = redis.call('PTTL', KEYS[1])
if t == -1 or t > tonumber(ARGV[1]) then redis.call('DEL', KEYS[1]) return 1 end
return 0`,
  local: () => 0,
};

/**
 * Adds a pending sign-in to a session's set, drops the oldest beyond `max`, and makes the set
 * live as long as a pending sign-in may; answers how many it holds then (at most `max`).
 * KEYS: set. ARGV: field, value, max, ttl (ms).
 * Values are JSON (or sealed JSON) whose order is given by the field's creation time, which
 * the caller puts first in the value as `<ms>|...`.
 */
export const ADD_PENDING: Script = {
  name: 'add pending sign-in',
  lua: `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local n = redis.call('HLEN', KEYS[1])
local max = tonumber(ARGV[3])
if n > max then
  local all = redis.call('HGETALL', KEYS[1])
  local items = {}
  for i = 1, #all, 2 do
    local t = tonumber(string.match(all[i + 1], '^(%d+)|')) or 0
    table.insert(items, { all[i], t })
  end
  table.sort(items, function(a, b) return a[2] < b[2] end)
  for i = 1, n - max do redis.call('HDEL', KEYS[1], items[i][1]) end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return math.min(n, max)`,
  local(kv, [set], [field, value, max, ttl]) {
    const hash = kv.hashOrNew(set!);
    hash.set(field!, value!);
    const limit = Number(max);
    if (hash.size > limit) {
      const order = [...hash.entries()].map(([f, v]) => [f, Number(/^(\d+)\|/.exec(v)?.[1] ?? 0)] as const).sort((a, b) => a[1] - b[1]);
      for (const [f] of order.slice(0, hash.size - limit)) hash.delete(f);
    }
    kv.pexpire(set!, Number(ttl));
    return hash.size;
  },
};

/** Removes and returns one pending sign-in, and how many remain. KEYS: set. ARGV: field. */
export const TAKE_PENDING: Script = {
  name: 'take pending sign-in',
  lua: `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then redis.call('HDEL', KEYS[1], ARGV[1]) end
return { v or '', redis.call('HLEN', KEYS[1]) }`,
  local(kv, [set], [field]) {
    const hash = kv.hash(set!);
    const value = hash?.get(field!) ?? '';
    hash?.delete(field!);
    if (hash && hash.size === 0) kv.del(set!);
    return [value, hash?.size ?? 0];
  },
};

/**
 * Stores a value for `ttl` ms and releases the lock if it is still ours, in one step.
 * KEYS: value, lock. ARGV: value, ttl (ms), lock token.
 */
export const WRITE_AND_RELEASE: Script = {
  name: 'write and release',
  lua: `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`,
  local(kv, [key, lock], [value, ttl, token]) {
    kv.set(key!, value!, Number(ttl));
    releaseLocal(kv, lock!, token!);
    return 1;
  },
};

/**
 * A session in use keeps its sign-in alive as long as itself: the record's TTL is raised to
 * `ttl` (never lowered: a sign-out mark may have been given longer) and the owner's set to it.
 * Answers the owner (the user's hash), or null. KEYS: record, owner. ARGV: ttl (ms).
 */
export const EXTEND_SIGN_IN: Script = {
  name: 'extend sign-in',
  lua: `
local ttl = tonumber(ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left ~= -2 and left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
local owner = redis.call('GET', KEYS[2])
if owner then redis.call('PEXPIRE', KEYS[2], ttl) end
return owner`,
  local(kv, [record, owner], [ttl]) {
    const left = kv.pttl(record!);
    if (left !== -2 && left < Number(ttl)) kv.pexpire(record!, Number(ttl));
    const user = kv.get(owner!);
    if (user !== null) kv.pexpire(owner!, Number(ttl));
    return user;
  },
};

/**
 * A new sign-in: its first record and its owner (the user's hash; '' for none), with one TTL.
 * The grant is new and random, so there is nothing to compare with. KEYS: record, owner.
 * ARGV: value, ttl (ms), owner.
 */
export const WRITE_SIGN_IN: Script = {
  name: 'write sign-in',
  lua: `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] ~= '' then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2]) end
return 1`,
  local(kv, [record, owner], [value, ttl, user]) {
    kv.set(record!, value!, Number(ttl));
    if (user) kv.set(owner!, user, Number(ttl));
    return 1;
  },
};

/**
 * A code exchange brought a refresh token for a member's consent: stored when the consent is
 * missing, ended, or older (its version lower: an offer's version is the time of the exchange,
 * which no run of renewals, at most one a second, catches up with). So a newer refresh token
 * replaces an older one for every sign-in of the member and revives an ended consent. A record
 * never lives shorter than it already did. KEYS: consent record. ARGV: value, version, ttl (ms).
 * Answers 1 when written, 0 when refused.
 */
export const OFFER_CONSENT: Script = {
  name: 'offer consent',
  lua: `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and decoded.ended ~= true and tonumber(decoded.version) and tonumber(decoded.version) >= tonumber(ARGV[2]) then
    return 0
  end
end
local ttl = tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left > ttl then ttl = left end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1`,
  local(kv, [record], [value, version, ttl]) {
    const raw = kv.get(record!);
    if (raw !== null) {
      try {
        const current = JSON.parse(raw) as { ended?: unknown; version?: unknown };
        if (current.ended !== true && Number(current.version) >= Number(version)) return 0;
      } catch {
        // Not ours, or damaged: replaced.
      }
    }
    kv.set(record!, value!, Math.max(Number(ttl), kv.pttl(record!)));
    return 1;
  },
};

function liveUsers(users: Map<string, string>, now: number): number {
  let latest = 0;
  for (const [grant, until] of users) {
    if (Number(until) <= now) users.delete(grant);
    else latest = Math.max(latest, Number(until));
  }
  return latest;
}

/**
 * Notes that a sign-in uses a member's consent until `until` (ms, Redis's clock), forgets users
 * past their time, and makes the consent (record and users) live as long as its longest user.
 * KEYS: consent record, consent users. ARGV: grant, until, now. Answers the number of users.
 */
export const ATTACH_CONSENT: Script = {
  name: 'attach consent',
  lua: `
local now = tonumber(ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local all = redis.call('HGETALL', KEYS[2])
local latest = 0
local count = 0
for i = 1, #all, 2 do
  local untilAt = tonumber(all[i + 1]) or 0
  if untilAt <= now then redis.call('HDEL', KEYS[2], all[i]) else
    count = count + 1
    if untilAt > latest then latest = untilAt end
  end
end
if count == 0 then return 0 end
local ttl = math.max(1000, latest - now)
redis.call('PEXPIRE', KEYS[2], ttl)
local left = redis.call('PTTL', KEYS[1])
if left ~= -2 and left < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return count`,
  local(kv, [record, usersKey], [grant, untilAt, now]) {
    const users = kv.hashOrNew(usersKey!);
    users.set(grant!, untilAt!);
    const latest = liveUsers(users, Number(now));
    if (users.size === 0) return 0;
    const ttl = Math.max(1000, latest - Number(now));
    kv.pexpire(usersKey!, ttl);
    const left = kv.pttl(record!);
    if (left !== -2 && left < ttl) kv.pexpire(record!, ttl);
    return users.size;
  },
};

/**
 * A sign-in stops using a member's consent: forgets it (and users past their time) and answers
 * how many users are left; with none left the users key goes. KEYS: consent users.
 * ARGV: grant, now.
 */
export const DETACH_CONSENT: Script = {
  name: 'detach consent',
  lua: `
local now = tonumber(ARGV[2])
redis.call('HDEL', KEYS[1], ARGV[1])
local all = redis.call('HGETALL', KEYS[1])
local count = 0
for i = 1, #all, 2 do
  if (tonumber(all[i + 1]) or 0) <= now then redis.call('HDEL', KEYS[1], all[i]) else count = count + 1 end
end
if count == 0 then redis.call('DEL', KEYS[1]) end
return count`,
  local(kv, [usersKey], [grant, now]) {
    const users = kv.hash(usersKey!);
    if (!users) return 0;
    users.delete(grant!);
    liveUsers(users, Number(now));
    if (users.size === 0) kv.del(usersKey!);
    return users.size;
  },
};
