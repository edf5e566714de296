import { isRecord, isRedisOutage, isSpaceError, SpaceApiError, type SpaceError, type SpaceErrorCode, trimOldest } from '../core';
import { type Keys, type KV, openStored, RedisLock, seal, WRITE_AND_RELEASE } from '../store';
import { isMember, type SpaceMember } from './rules';

/** What Space answered when it refused a fetch (no token, no secret: the error's own fields). */
interface Refusal {
  code: SpaceErrorCode;
  message: string;
  status?: number;
  error?: string;
  errorDescription?: string;
}

/**
 * Facts as cached: when they were fetched, and when a fetch last failed: Space away, or Space
 * refusing (`refused`: a 403 for a token without the scope, a proxy's page...), which is an
 * answer, given again without asking until the pause is over.
 */
interface Entry {
  member?: SpaceMember;
  at: number;
  failedAt?: number;
  refused?: Refusal;
}

/** How long after a failed fetch (Space away or refusing) nobody asks Space again (the `Retry-After` given meanwhile), ms. */
export const RETRY_AFTER_FAILURE = 2000;
const POLL = 50;
const MAX_LOCAL = 10_000;

/** No facts young enough to decide on, and Space cannot be asked now: answer 503. */
export class MemberFactsUnavailable extends Error {
  constructor(readonly retryAfter: number) {
    super('Space could not be asked for the team memberships, and no recent answer is known');
  }
}

export interface FactsRule {
  /** Facts younger than this are used without asking Space, ms. */
  ttl: number;
  /** Facts up to this old are used while Space cannot be asked, ms. */
  maxStale: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function refusalOf(err: SpaceError): Refusal {
  const refusal: Refusal = { code: err.code, message: err.message };
  if (err.status !== undefined) refusal.status = err.status;
  if (err.error !== undefined) refusal.error = err.error;
  if (err.errorDescription !== undefined) refusal.errorDescription = err.errorDescription;
  return refusal;
}

/** A refusal remembered (here or by another process), as the error Space's answer was. */
function refusalError(refusal: Refusal): SpaceApiError {
  return new SpaceApiError(refusal.message, { code: refusal.code, status: refusal.status, error: refusal.error, errorDescription: refusal.errorDescription });
}

/**
 * The team facts of sign-ins, cached in Redis as `<prefix>{<tag>}:member` (sealed when
 * encryption keys are set) so that all processes together ask Space at most once per sign-in
 * per TTL: one process takes `<prefix>{<tag>}:member-lock` and fetches, the others wait for
 * its answer (or its failure). Within a process, one fetch at a time per tag. When Redis is
 * away, each process asks Space for itself.
 */
export class MemberStore {
  private readonly local = new Map<string, Entry>();
  private readonly flights = new Map<string, Promise<Entry>>();

  private readonly locks: RedisLock;

  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly encryption: readonly Buffer[], private readonly lockTTL: number) {
    this.locks = new RedisLock(kv, lockTTL);
  }

  /** Facts for `tag` (a grant, or `b:<token hash>`), fetched with `fetch` only when needed. */
  async get(tag: string, fetch: () => Promise<SpaceMember>, rule: FactsRule): Promise<SpaceMember> {
    const hit = this.local.get(tag);
    if (hit?.member && Date.now() - hit.at < rule.ttl) return hit.member;
    if (hit?.refused && recentlyFailed(hit)) throw refusalError(hit.refused);
    let flight = this.flights.get(tag);
    if (!flight) {
      flight = this.load(tag, fetch, rule).finally(() => this.flights.delete(tag));
      this.flights.set(tag, flight);
    }
    return usable(await flight, rule);
  }

  /** Forgets what this process holds for `tag` (a sign-in that ended). */
  forget(tag: string): void {
    this.local.delete(tag);
  }

  private remember(tag: string, entry: Entry): Entry {
    const known = this.local.get(tag);
    if (known && known.at > entry.at) return known;
    this.local.delete(tag);
    this.local.set(tag, entry);
    trimOldest(this.local, MAX_LOCAL);
    return entry;
  }

  private async load(tag: string, fetch: () => Promise<SpaceMember>, rule: FactsRule): Promise<Entry> {
    const started = Date.now();
    let best = this.local.get(tag);
    try {
      const stored = await this.read(tag);
      if (stored && (!best || stored.at > best.at || (stored.failedAt ?? 0) > (best.failedAt ?? 0))) best = this.remember(tag, stored);
      if (isFresh(best, rule) || recentlyFailed(best)) return best!;
      const deadline = started + this.lockTTL;
      for (;;) {
        const lock = await this.lock(tag);
        if (lock) return await this.fetchAsHolder(tag, fetch, rule, lock, best);
        // Another process is asking Space: wait for its answer, or for its failure.
        await sleep(POLL);
        const seen = await this.read(tag);
        if (seen && (seen.at > (best?.at ?? 0) || (seen.failedAt ?? 0) >= started)) {
          best = this.remember(tag, seen);
          if (isFresh(best, rule) || recentlyFailed(best)) return best;
        }
        if (Date.now() > deadline) return failed(best);
      }
    } catch (err) {
      if (!isRedisOutage(err)) throw err;
      // Redis away: this process asks Space itself (its own single flight still holds), and
      // keeps its own pause after a failure, as the processes do together through Redis.
      if (recentlyFailed(best)) return best!;
      try {
        return this.remember(tag, { member: await fetch(), at: Date.now() });
      } catch (spaceErr) {
        if (!isSpaceError(spaceErr)) throw spaceErr;
        const marked: Entry = { ...withoutRefusal(best ?? { at: 0 }), failedAt: Date.now() };
        if (!spaceErr.transient) marked.refused = refusalOf(spaceErr);
        const entry = this.remember(tag, marked);
        if (!spaceErr.transient) throw spaceErr;
        return failed(entry);
      }
    }
  }

  private async fetchAsHolder(tag: string, fetch: () => Promise<SpaceMember>, rule: FactsRule, lock: string, best: Entry | undefined): Promise<Entry> {
    const key = this.keys.member(tag);
    try {
      // Another process may have written while this one was taking the lock.
      const again = await this.read(tag);
      if (again && isFresh(again, rule)) {
        await this.unlock(tag, lock);
        return this.remember(tag, again);
      }
      let member: SpaceMember;
      try {
        member = await fetch();
      } catch (err) {
        if (!isSpaceError(err)) throw err;
        // Only Space being away (5xx, timeout, unreachable) falls back to older facts; a refusal is an answer.
        // Tell the waiting processes (and the next requests) that Space is away, keeping the old
        // facts; or that Space refused, which they answer too until the pause is over.
        const marked: Entry = { ...withoutRefusal(best ?? { at: 0 }), failedAt: Date.now() };
        if (!err.transient) marked.refused = refusalOf(err);
        await this.kv.run(WRITE_AND_RELEASE, [key, this.keys.memberLock(tag)], [this.encode(tag, marked), rule.maxStale, lock]);
        const entry = this.remember(tag, marked);
        if (!err.transient) throw err;
        return failed(entry);
      }
      const entry: Entry = { member, at: Date.now() };
      // Redis failing now must not cost Space a second call: the answer is good for this process.
      await this.kv.run(WRITE_AND_RELEASE, [key, this.keys.memberLock(tag)], [this.encode(tag, entry), rule.maxStale, lock])
        .catch((err: unknown) => { if (!isRedisOutage(err)) throw err; });
      return this.remember(tag, entry);
    } catch (err) {
      await this.unlock(tag, lock).catch(() => undefined);
      throw err;
    }
  }

  private place(tag: string): string {
    return `member:${this.keys.member(tag)}`;
  }

  private encode(tag: string, entry: Entry): string {
    const json = JSON.stringify(entry);
    return this.encryption.length ? JSON.stringify({ sealed: seal(this.encryption, json, this.place(tag)) }) : json;
  }

  private async read(tag: string): Promise<Entry | undefined> {
    const raw = await this.kv.get(this.keys.member(tag));
    if (!raw) return undefined;
    try {
      let value: unknown = JSON.parse(raw);
      // Refused (a retired key; or plain while keys are set: not written by us): fetch again.
      const opened = openStored(this.encryption, isRecord(value) ? value.sealed : undefined, this.place(tag));
      if (!opened.ok) return undefined;
      if ('text' in opened) value = JSON.parse(opened.text);
      if (!isRecord(value) || typeof value.at !== 'number') return undefined;
      const entry: Entry = { at: value.at };
      if (value.member !== undefined) {
        if (!isMember(value.member)) return undefined;
        entry.member = value.member;
      }
      if (typeof value.failedAt === 'number') entry.failedAt = value.failedAt;
      const r = value.refused;
      if (isRecord(r) && typeof r.code === 'string' && typeof r.message === 'string') {
        const refusal: Refusal = { code: r.code as SpaceErrorCode, message: r.message };
        if (typeof r.status === 'number') refusal.status = r.status;
        if (typeof r.error === 'string') refusal.error = r.error;
        if (typeof r.errorDescription === 'string') refusal.errorDescription = r.errorDescription;
        entry.refused = refusal;
      }
      return entry;
    } catch {
      return undefined;
    }
  }

  private lock(tag: string): Promise<string | undefined> {
    return this.locks.take(this.keys.memberLock(tag));
  }

  private unlock(tag: string, token: string): Promise<void> {
    return this.locks.release(this.keys.memberLock(tag), token);
  }
}

function isFresh(entry: Entry | undefined, rule: FactsRule): boolean {
  return entry?.member !== undefined && Date.now() - entry.at < rule.ttl;
}

function recentlyFailed(entry: Entry | undefined): boolean {
  return entry?.failedAt !== undefined && Date.now() - entry.failedAt < RETRY_AFTER_FAILURE;
}

/** The entry as it stands after a failed fetch (or no answer in time): the caller decides with {@link usable}. */
function failed(entry: Entry | undefined): Entry {
  return { ...(entry ?? { at: 0 }), failedAt: entry?.failedAt ?? Date.now() };
}

function withoutRefusal(entry: Entry): Entry {
  const { refused: _refused, ...rest } = entry;
  return rest;
}

/** The facts to decide on: fresh ones, else (Space away) ones no older than `maxStale`; never none. */
function usable(entry: Entry, rule: FactsRule): SpaceMember {
  if (entry.refused && recentlyFailed(entry)) throw refusalError(entry.refused);
  const age = Date.now() - entry.at;
  if (entry.member && (age < rule.ttl || age < rule.maxStale)) return entry.member;
  throw new MemberFactsUnavailable(RETRY_AFTER_FAILURE / 1000);
}
