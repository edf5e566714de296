import type { LocalData, Script } from './kv';

/**
 * The scripts of a user's sessions index (`<prefix>{u:<user hash>}:sessions`, a hash from each
 * sign-in's grant to JSON `{ startedAt, lastSeen, until, agent }`), with their in-memory twins.
 * One key per script, so they run on Redis Cluster.
 */

interface IndexEntry {
  startedAt?: number;
  lastSeen?: number;
  until?: number;
}

function decode(raw: string | undefined): IndexEntry | undefined {
  if (raw === undefined) return undefined;
  try {
    const value = JSON.parse(raw) as unknown;
    return typeof value === 'object' && value !== null ? (value as IndexEntry) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Adds or refreshes one session in the index, keeping its first `startedAt` and `agent`; drops
 * entries past their `until`; beyond `max` entries, drops the least recently seen and returns
 * their grants (the caller ends them, so "sign out everywhere" never misses one); and makes
 * the index live as long as its longest-lived entry. KEYS: index. ARGV: grant, entry JSON, now, max.
 */
export const TOUCH_SESSION: Script = {
  name: 'touch session',
  lua: `
local entry = cjson.decode(ARGV[2])
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, d = pcall(cjson.decode, old)
  if ok and type(d) == 'table' then
    if d.startedAt then entry.startedAt = d.startedAt end
    if d.agent then entry.agent = d.agent end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
local now = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
local live = {}
local last = now + 1000
for i = 1, #all, 2 do
  local ok, d = pcall(cjson.decode, all[i + 1])
  local untilAt = ok and type(d) == 'table' and tonumber(d['until']) or 0
  if untilAt <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    table.insert(live, { all[i], ok and tonumber(d.lastSeen) or 0 })
    if untilAt > last then last = untilAt end
  end
end
local evicted = {}
local max = tonumber(ARGV[4])
if #live > max then
  table.sort(live, function(a, b) return a[2] < b[2] end)
  for i = 1, #live - max do
    redis.call('HDEL', KEYS[1], live[i][1])
    table.insert(evicted, live[i][1])
  end
end
redis.call('PEXPIRE', KEYS[1], math.floor(last - now))
return evicted`,
  local(kv: LocalData, [index], [grant, json, nowArg, maxArg]) {
    const hash = kv.hashOrNew(index!);
    const entry = JSON.parse(json!) as IndexEntry & { agent?: string };
    const old = decode(hash.get(grant!)) as (IndexEntry & { agent?: string }) | undefined;
    if (old?.startedAt) entry.startedAt = old.startedAt;
    if (old?.agent) entry.agent = old.agent;
    hash.set(grant!, JSON.stringify(entry));
    const now = Number(nowArg);
    let last = now + 1000;
    const live: Array<[string, number]> = [];
    for (const [field, raw] of [...hash.entries()]) {
      const d = decode(raw);
      const untilAt = Number(d?.until ?? 0);
      if (untilAt <= now) hash.delete(field);
      else {
        live.push([field, Number(d?.lastSeen ?? 0)]);
        last = Math.max(last, untilAt);
      }
    }
    const evicted: string[] = [];
    if (live.length > Number(maxArg)) {
      live.sort((a, b) => a[1] - b[1]);
      for (const [field] of live.slice(0, live.length - Number(maxArg))) {
        hash.delete(field);
        evicted.push(field);
      }
    }
    kv.pexpire(index!, Math.floor(last - now));
    return evicted;
  },
};

/** Every entry of an index, as a flat field/value list. KEYS: index. */
export const LIST_SESSIONS: Script = {
  name: 'list sessions',
  lua: `return redis.call('HGETALL', KEYS[1])`,
  local(kv, [index]) {
    return [...(kv.hash(index!)?.entries() ?? [])].flat();
  },
};

/** Removes sessions from an index (and the index once empty). KEYS: index. ARGV: grants. */
export const FORGET_SESSIONS: Script = {
  name: 'forget sessions',
  lua: `
for i = 1, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('DEL', KEYS[1]) end
return 1`,
  local(kv, [index], grants) {
    const hash = kv.hash(index!);
    for (const g of grants) hash?.delete(g);
    if (hash && hash.size === 0) kv.del(index!);
    return 1;
  },
};
