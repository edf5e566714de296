import type { Request } from 'express';
import { dropWhileFirst, PER_PROCESS_MAX, trimOldest } from '../core';
import { EXTEND_SIGN_IN, fingerprint, FORGET_SESSIONS, memberHash, LIST_SESSIONS, TOUCH_SESSION } from '../store';
import { isEnded, type StoredTokenSet } from '../tokens';
import { endSignIn, type SpaceRuntime } from '../runtime';
import { sessionOf } from '../session';
import { noteMember } from './all-members';

/**
 * Each member's sign-ins in this app, in every browser and process: an index in Redis per member
 * (`<prefix>{u:<hash of the member id>}:sessions`), written at sign-in, touched at most once a
 * minute, read by spaceSessions; and the one way a sign-in found there is ended.
 */

/** Sessions indexed per user; beyond this, the least recently seen one is signed out. */
export const MAX_SESSIONS_PER_USER = 50;
/** `lastSeen` is written at most this often per session and process, ms. */
const TOUCH_EVERY = 60_000;

export interface Entry {
  startedAt: number;
  lastSeen: number;
  until: number;
  agent: string;
}

/** When this process last wrote each sign-in's `lastSeen`. */
const touchedBy = new WeakMap<object, Map<string, number>>();
function touchedOf(runtime: SpaceRuntime): Map<string, number> {
  let map = touchedBy.get(runtime);
  if (!map) touchedBy.set(runtime, (map = new Map()));
  return map;
}

function markTouched(runtime: SpaceRuntime, grant: string, now: number): void {
  const touched = touchedOf(runtime);
  touched.delete(grant);
  touched.set(grant, now);
  // Oldest first (each write moves its entry to the end): past a minute an entry says nothing.
  dropWhileFirst(touched, (at) => now - at >= TOUCH_EVERY);
  trimOldest(touched, PER_PROCESS_MAX);
}

/** "Firefox on Linux": enough to recognise a browser, bounded, nothing else of the header. */
export function describeAgent(userAgent: string | undefined): string {
  const ua = (userAgent ?? '').slice(0, 512);
  const browser = /Edg\//.test(ua) ? 'Edge' : /OPR\//.test(ua) ? 'Opera' : /Firefox\//.test(ua) ? 'Firefox'
    : /Chrom(e|ium)\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : /curl\//i.test(ua) ? 'curl' : undefined;
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad|iPod/.test(ua) ? 'iOS' : /Windows/.test(ua) ? 'Windows'
    : /Mac OS X|Macintosh/.test(ua) ? 'macOS' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : undefined;
  if (browser && os) return `${browser} on ${os}`;
  if (browser || os) return (browser ?? os)!;
  return ua.replace(/[^\x20-\x7e]/g, '').slice(0, 40) || 'Unknown browser';
}

function parseEntry(raw: string | undefined): Entry | undefined {
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<Entry>;
    if (typeof v.startedAt !== 'number' || typeof v.lastSeen !== 'number' || typeof v.until !== 'number') return undefined;
    return { startedAt: v.startedAt, lastSeen: v.lastSeen, until: v.until, agent: typeof v.agent === 'string' ? v.agent.slice(0, 60) : 'Unknown browser' };
  } catch {
    return undefined;
  }
}

export const userHash = memberHash;
export const handle = (grant: string) => fingerprint(`session:${grant}`, 16);

export async function readIndex(runtime: SpaceRuntime, user: string): Promise<Map<string, Entry | undefined>> {
  const flat = (await runtime.kv.run(LIST_SESSIONS, [runtime.keys.sessions(user)], [])) as string[];
  const entries = new Map<string, Entry | undefined>();
  for (let i = 0; i + 1 < flat.length; i += 2) entries.set(flat[i]!, parseEntry(flat[i + 1]));
  return entries;
}

async function touch(runtime: SpaceRuntime, user: string, grant: string, entry: Entry): Promise<void> {
  const [evicted] = await Promise.all([
    runtime.kv.run(TOUCH_SESSION, [runtime.keys.sessions(user)], [grant, JSON.stringify(entry), Date.now(), MAX_SESSIONS_PER_USER]) as Promise<string[]>,
    // Every member with a sign-in, for an uninstall (all-members.ts); sent with the line above.
    noteMember(runtime, user, entry.until),
  ]);
  // Too many sessions: the least recently seen ones are signed out, not just forgotten (all marked first).
  if (evicted?.length) await endGrants(runtime, user, evicted.map((grant): [string, number] => [grant, runtime.settings.tokenTTL])).catch(() => undefined);
}

/**
 * The tokens of a new sign-in as the library keeps them. A known member's sign-in refers to the
 * member's consent (member × app × granted scope: what Space's refresh token belongs to), and a
 * refresh token Space issued at this exchange goes to the consent, not to the sign-in, so every
 * browser of the member renews through it. Without a member (no profile) the sign-in keeps its
 * own refresh token, as before consents.
 */
export function signInTokens(runtime: SpaceRuntime, exchanged: StoredTokenSet, userId: string | undefined): { stored: StoredTokenSet; offered: StoredTokenSet | undefined } {
  if (!userId) return { stored: exchanged, offered: undefined };
  const stored: StoredTokenSet = { ...exchanged, consent: runtime.consents.idOf(userHash(userId), exchanged.scope) };
  delete stored.refreshToken;
  return { stored, offered: exchanged.refreshToken ? exchanged : undefined };
}

/**
 * At sign-in, before the callback answers: the sign-in's record (its tokens: the session only
 * names it) and whose sign-in it is, the sign-in noted as a user of its member's consent, and a
 * refresh token Space issued offered to the consent, sent together. Redis errors are thrown.
 */
export async function recordSignIn(runtime: SpaceRuntime, req: Request, stored: StoredTokenSet, userId: string | undefined, offered?: StoredTokenSet): Promise<void> {
  const ttl = runtime.recordTTL(req);
  const writes: Array<Promise<unknown>> = [runtime.records.writeFirst(stored, ttl, userId ? userHash(userId) : '')];
  if (stored.consent) {
    const now = runtime.clock.now();
    if (offered) writes.push(runtime.consents.offer(stored.consent, offered, ttl, now));
    writes.push(runtime.consents.attach(stored.consent, stored.grant, now + ttl, now));
  }
  await Promise.all(writes);
}

/**
 * At sign-in, after {@link recordSignIn}: an entry in the user's index.
 * Best effort: a failure here never fails the sign-in.
 */
export async function noteSignIn(runtime: SpaceRuntime, req: Request, stored: StoredTokenSet, userId: string | undefined): Promise<void> {
  const ttl = runtime.recordTTL(req);
  try {
    if (!userId) return;
    const user = userHash(userId);
    const now = Date.now();
    markTouched(runtime, stored.grant, now);
    await touch(runtime, user, stored.grant, { startedAt: now, lastSeen: now, until: now + ttl, agent: describeAgent(req.get('user-agent')) });
  } catch (err) {
    runtime.emit({ event: 'redis.unavailable', reason: 'sessions_index', message: err instanceof Error ? err.message : String(err) });
  }
}

/** Refreshes the session's `lastSeen` (spaceTokenRefresh calls it): at most once a minute per process. */
export function touchSession(runtime: SpaceRuntime, req: Request, tokens: StoredTokenSet): void {
  const now = Date.now();
  const last = touchedOf(runtime).get(tokens.grant);
  if (last !== undefined && now - last < TOUCH_EVERY) return;
  markTouched(runtime, tokens.grant, now);
  const ttl = runtime.recordTTL(req);
  const agent = describeAgent(req.get('user-agent'));
  (async () => {
    // The record (the tokens) lives as long as the session, however long a rolling session goes on.
    const user = (await runtime.kv.run(EXTEND_SIGN_IN, [runtime.keys.record(tokens.grant), runtime.keys.owner(tokens.grant)], [Math.max(1000, Math.round(ttl))])) as string | null;
    if (!user) return; // Signed in without a profile.
    const shared = runtime.clock.now();
    await Promise.all([
      touch(runtime, user, tokens.grant, { startedAt: now, lastSeen: now, until: now + ttl, agent }),
      // The member's consent lives as long as its longest-lived sign-in.
      tokens.consent ? runtime.consents.attach(tokens.consent, tokens.grant, shared + ttl, shared) : undefined,
    ]);
  })().catch(() => undefined);
}

/**
 * Ends one sign-in, from anywhere: marked ended in Redis and announced (its cookie never
 * authenticates again, in any process), removed from the index, and revoked at Space when due
 * (its consent's last sign-in, or one with its own refresh token: see `SpaceRuntime.finish`).
 */
export async function endGrant(runtime: SpaceRuntime, user: string, grant: string, ttl: number, reason = 'ended_everywhere'): Promise<void> {
  await endGrants(runtime, user, [[grant, ttl]], undefined, reason);
}

/** Revocations (and consent releases) run at once when several sign-ins end together. */
const REVOKE_AT_ONCE = 8;
/** How long the revocations of one ending may take, all together, ms. */
const REVOKE_WITHIN = 3000;

/**
 * Ends several sign-ins of `user` (and, with `req`, this request's own sign-in as well), in two
 * steps. First every one is marked ended in Redis: the marks and the index update are sent
 * together (one round trip; each mark answers the record it replaced, so nothing is read
 * first), and announced. From then on no cookie of them authenticates, in any process. Only
 * then is Space told: each leaves its member's consent (the consent's refresh token is revoked
 * once, when its last sign-in leaves) or, with a refresh token of its own, is revoked — a few at
 * a time, all within one deadline (best effort; see `SpaceRuntime.finish`). So Space answering
 * slowly never keeps one session signed in while another one's revocation is waiting.
 */
async function endGrants(runtime: SpaceRuntime, user: string | null, grants: Array<[string, number]>, req?: Request, reason = 'ended_everywhere'): Promise<void> {
  const current = req ? runtime.session.grantOf(sessionOf(req)) : undefined;
  const life = (ttl: number) => Math.max(ttl, runtime.settings.tokenTTL);
  const others = grants.filter(([grant]) => grant !== current).map(([grant, ttl]): [string, number] => [grant, life(ttl)]);
  const all: Array<[string, number]> = current ? [...others, [current, runtime.recordTTL(req!)]] : others;
  if (all.length === 0) return;
  // Sent together, answered together: every mark, then the index, in one round trip.
  const marks = others.map(([grant, ttl]) => runtime.engine.end(grant, ttl));
  if (current) marks.push(runtime.end(current, req!));
  const forget = user ? runtime.kv.run(FORGET_SESSIONS, [runtime.keys.sessions(user)], all.map(([grant]) => grant)) : Promise.resolve();
  const [marked, forgotten] = await Promise.all([Promise.allSettled(marks), Promise.allSettled([forget])]);
  const failures: unknown[] = [];
  const toFinish: Array<{ grant: string; ttl: number; before: StoredTokenSet | undefined }> = [];
  marked.forEach((m, i) => {
    if (m.status === 'rejected') return void failures.push(m.reason);
    const [grant, ttl] = all[i]!;
    if (grant !== current) runtime.emit({ event: 'session.ended', reason, grant: fingerprint(grant, 12) });
    toFinish.push({ grant, ttl, before: m.value && !isEnded(m.value) ? m.value : undefined });
  });
  if (forgotten[0]!.status === 'rejected') failures.push(forgotten[0].reason);
  // This request's session is signed out here too (tokens dropped, Passport logged out), once
  // its sign-in is marked; if the mark failed, the session stays as it was.
  if (req && current && marked[marked.length - 1]!.status === 'fulfilled') {
    await endSignIn(runtime, req, { revoke: false, mark: false, reason }).catch((err: unknown) => { failures.push(err); });
  }
  const deadline = Date.now() + REVOKE_WITHIN;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < toFinish.length) {
      const { grant, ttl, before } = toFinish[next++]!;
      const timeout = Math.max(1, deadline - Date.now());
      await runtime.finish(grant, { revoke: true, ttl, timeout, ...(before ? { tokens: before } : {}) }).catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REVOKE_AT_ONCE, toFinish.length) }, worker));
  if (failures.length) throw failures[0];
}

/** The live entries of an index; ended sign-ins and expired entries are removed on the way. */
export async function liveEntries(runtime: SpaceRuntime, user: string): Promise<Array<[string, Entry]>> {
  const now = Date.now();
  const entries = await readIndex(runtime, user);
  const checked = await Promise.all([...entries].map(async ([grant, entry]) => {
    if (!entry || entry.until <= now) return { grant, entry: undefined };
    const record = await runtime.records.read(grant);
    return { grant, entry: isEnded(record) || runtime.engine.news.get(grant)?.ended ? undefined : entry };
  }));
  const dead = checked.filter((c) => !c.entry).map((c) => c.grant);
  if (dead.length) await runtime.kv.run(FORGET_SESSIONS, [runtime.keys.sessions(user)], dead);
  return checked.filter((c) => c.entry).map((c) => [c.grant, c.entry!] as [string, Entry]);
}

/**
 * Ends every session of `user` in the index (see {@link endGrants}), and with `req` this
 * request's own, all marked ended before any is revoked; the grants for which `keep` says true
 * are left. Answers how many of the index's sessions were ended.
 */
export async function endEntries(runtime: SpaceRuntime, user: string | null, keep: (grant: string) => boolean, req?: Request): Promise<number> {
  const entries = user ? await readIndex(runtime, user) : new Map<string, Entry | undefined>();
  const now = Date.now();
  const targets = [...entries].filter(([grant]) => !keep(grant)).map(([grant, entry]): [string, number] => [grant, entry ? entry.until - now : 0]);
  await endGrants(runtime, user, targets, req);
  return targets.length;
}
