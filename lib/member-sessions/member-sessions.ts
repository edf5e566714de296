import type { Request } from 'express';
import { dropWhileFirst, PER_PROCESS_MAX, trimOldest } from '../core/bounded';
import { strategyOf } from '../runtime/request-context';
import { SpaceSessionEndedError } from '../core/errors';
import { fingerprint } from '../store/key-names';
import { isEnded } from '../tokens/records';
import { FORGET_SESSIONS, LIST_SESSIONS, TOUCH_SESSION } from '../store/session-scripts';
import { EXTEND_SIGN_IN } from '../store/scripts';
import { endSignIn } from '../signout/end-sign-in';
import { sessionOf } from '../session/state';
import type { SpaceStrategy } from '../strategy';
import type { StoredTokenSet } from '../tokens/token-set';

/** One of the user's signed-in sessions, as {@link spaceSessions} lists it. */
export interface SpaceSessionInfo {
  /** An opaque handle for {@link SpaceSessions.end}; not the session id, not a token. */
  id: string;
  /** True for the session of this request. */
  current: boolean;
  /** Sign-in time, epoch ms. */
  startedAt: number;
  /** Last request seen, epoch ms (updated at most once a minute). */
  lastSeen: number;
  /** A short description of the browser at sign-in, e.g. `"Firefox on Linux"`. */
  agent: string;
}

/** The signed-in user's sessions in this app, in every browser and app process. */
export interface SpaceSessions {
  /** The user's live sessions, newest sign-in first. */
  list(): Promise<SpaceSessionInfo[]>;
  /** Ends one session (this one too, if its id is given). Unknown ids are ignored. */
  end(id: string): Promise<void>;
  /** Ends every session of the user; with `exceptCurrent`, all but this one. */
  endAll(options?: { exceptCurrent?: boolean }): Promise<void>;
}

/** Sessions indexed per user; beyond this, the least recently seen one is signed out. */
export const MAX_SESSIONS_PER_USER = 50;
/** `lastSeen` is written at most this often per session and process, ms. */
const TOUCH_EVERY = 60_000;

interface Entry {
  startedAt: number;
  lastSeen: number;
  until: number;
  agent: string;
}

/** When this process last wrote each sign-in's `lastSeen`. */
const touchedBy = new WeakMap<object, Map<string, number>>();
function touchedOf(strategy: SpaceStrategy): Map<string, number> {
  let map = touchedBy.get(strategy.runtime);
  if (!map) touchedBy.set(strategy.runtime, (map = new Map()));
  return map;
}

function markTouched(strategy: SpaceStrategy, grant: string, now: number): void {
  const touched = touchedOf(strategy);
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

const userHash = (userId: string) => fingerprint(`user:${userId}`, 22);
const handle = (grant: string) => fingerprint(`session:${grant}`, 16);

async function readIndex(strategy: SpaceStrategy, user: string): Promise<Map<string, Entry | undefined>> {
  const flat = (await strategy.runtime.kv.run(LIST_SESSIONS, [strategy.runtime.keys.sessions(user)], [])) as string[];
  const entries = new Map<string, Entry | undefined>();
  for (let i = 0; i + 1 < flat.length; i += 2) entries.set(flat[i]!, parseEntry(flat[i + 1]));
  return entries;
}

async function touch(strategy: SpaceStrategy, user: string, grant: string, entry: Entry): Promise<void> {
  const runtime = strategy.runtime;
  const evicted = (await runtime.kv.run(TOUCH_SESSION, [runtime.keys.sessions(user)], [grant, JSON.stringify(entry), Date.now(), MAX_SESSIONS_PER_USER])) as string[];
  // Too many sessions: the least recently seen ones are signed out, not just forgotten.
  for (const old of evicted ?? []) await endGrant(strategy, user, old, runtime.settings.tokenTTL).catch(() => undefined);
}

/**
 * At sign-in, before the callback answers: the sign-in's record (its tokens: the session only
 * names it) and whose sign-in it is, in one write. Redis errors are thrown.
 */
export async function recordSignIn(strategy: SpaceStrategy, req: Request, stored: StoredTokenSet, userId: string | undefined): Promise<void> {
  await strategy.runtime.records.writeFirst(stored, strategy.runtime.recordTTL(req), userId ? userHash(userId) : '');
}

/**
 * At sign-in, after {@link recordSignIn}: an entry in the user's index.
 * Best effort: a failure here never fails the sign-in.
 */
export async function noteSignIn(strategy: SpaceStrategy, req: Request, stored: StoredTokenSet, userId: string | undefined): Promise<void> {
  const runtime = strategy.runtime;
  const ttl = runtime.recordTTL(req);
  try {
    if (!userId) return;
    const user = userHash(userId);
    const now = Date.now();
    markTouched(strategy, stored.grant, now);
    await touch(strategy, user, stored.grant, { startedAt: now, lastSeen: now, until: now + ttl, agent: describeAgent(req.get('user-agent')) });
  } catch (err) {
    runtime.emit({ event: 'redis.unavailable', reason: 'sessions_index', message: err instanceof Error ? err.message : String(err) });
  }
}

/** Refreshes the session's `lastSeen` (spaceTokenRefresh calls it): at most once a minute per process. */
export function touchSession(strategy: SpaceStrategy, req: Request, tokens: StoredTokenSet): void {
  const now = Date.now();
  const last = touchedOf(strategy).get(tokens.grant);
  if (last !== undefined && now - last < TOUCH_EVERY) return;
  markTouched(strategy, tokens.grant, now);
  const runtime = strategy.runtime;
  const ttl = runtime.recordTTL(req);
  const agent = describeAgent(req.get('user-agent'));
  (async () => {
    // The record (the tokens) lives as long as the session, however long a rolling session goes on.
    const user = (await runtime.kv.run(EXTEND_SIGN_IN, [runtime.keys.record(tokens.grant), runtime.keys.owner(tokens.grant)], [Math.max(1000, Math.round(ttl))])) as string | null;
    if (!user) return; // Signed in without a profile.
    await touch(strategy, user, tokens.grant, { startedAt: now, lastSeen: now, until: now + ttl, agent });
  })().catch(() => undefined);
}

/**
 * Ends one sign-in, from anywhere: marked ended in Redis and announced (its cookie never
 * authenticates again, in any process), removed from the index, and its refresh token revoked
 * at Space with its access token while that is still valid (best effort: else it is skipped).
 */
async function endGrant(strategy: SpaceStrategy, user: string, grant: string, ttl: number): Promise<void> {
  const runtime = strategy.runtime;
  const record = await runtime.records.read(grant).catch(() => undefined);
  await runtime.engine.end(grant, Math.max(ttl, runtime.settings.tokenTTL));
  await runtime.kv.run(FORGET_SESSIONS, [runtime.keys.sessions(user)], [grant]);
  runtime.emit({ event: 'session.ended', reason: 'ended_everywhere', grant: fingerprint(grant, 12) });
  if (record && !isEnded(record) && record.expiresAt > Date.now() + 1000) {
    await strategy.revokeRefreshToken(record.accessToken, { signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  }
}

/** The live entries of an index; ended sign-ins and expired entries are removed on the way. */
async function liveEntries(strategy: SpaceStrategy, user: string): Promise<Array<[string, Entry]>> {
  const runtime = strategy.runtime;
  const now = Date.now();
  const entries = await readIndex(strategy, user);
  const checked = await Promise.all([...entries].map(async ([grant, entry]) => {
    if (!entry || entry.until <= now) return { grant, entry: undefined };
    const record = await runtime.records.read(grant);
    return { grant, entry: isEnded(record) || runtime.engine.news.get(grant)?.ended ? undefined : entry };
  }));
  const dead = checked.filter((c) => !c.entry).map((c) => c.grant);
  if (dead.length) await runtime.kv.run(FORGET_SESSIONS, [runtime.keys.sessions(user)], dead);
  return checked.filter((c) => c.entry).map((c) => [c.grant, c.entry!] as [string, Entry]);
}

/** Ends every session of `user` in the index; the grants for which `keep` says true are left. */
async function endEntries(strategy: SpaceStrategy, user: string, keep: (grant: string) => boolean): Promise<number> {
  const entries = await readIndex(strategy, user);
  let ended = 0;
  for (const [grant, entry] of entries) {
    if (keep(grant)) continue;
    await endGrant(strategy, user, grant, entry ? entry.until - Date.now() : 0);
    ended++;
  }
  return ended;
}

/**
 * The signed-in user's sessions: list them, end one, or sign out everywhere. Needs
 * spaceTokenRefresh() mounted. Only this user's sessions are reachable, and other sessions are
 * named by opaque handles, never by their session ids or tokens. Ending this request's own
 * session signs it out as spaceSignOut would (answer with a redirect to a public page).
 *
 * ```ts
 * app.post('/sessions/end-all', csrf, async (req, res) => {
 *   await spaceSessions(req).endAll();
 *   res.redirect('/');
 * });
 * ```
 */
export function spaceSessions(req: Request): SpaceSessions {
  const strategy = strategyOf(req);
  if (!strategy) throw new TypeError('spaceSessions(req) needs spaceTokenRefresh() mounted before this route');
  const runtime = strategy.runtime;
  const mine = async (): Promise<{ user: string | null; grant: string }> => {
    const grant = runtime.session.grantOf(sessionOf(req));
    if (!grant || !req.spaceTokens) throw new SpaceSessionEndedError('Not signed in with Space');
    return { user: await runtime.kv.get(runtime.keys.owner(grant)), grant };
  };
  const endCurrent = () => endSignIn(strategy, req, { revoke: true, mark: true, reason: 'ended_everywhere' });
  return {
    async list() {
      const { user, grant } = await mine();
      if (!user) return [];
      const entries = await liveEntries(strategy, user);
      return entries
        .map(([g, e]) => ({ id: handle(g), current: g === grant, startedAt: e.startedAt, lastSeen: e.lastSeen, agent: e.agent }))
        .sort((a, b) => b.startedAt - a.startedAt);
    },
    async end(id) {
      const { user, grant } = await mine();
      if (!user || typeof id !== 'string') return;
      const entries = await readIndex(strategy, user);
      const target = [...entries].find(([g]) => handle(g) === id);
      if (!target) return;
      if (target[0] === grant) return endCurrent();
      await endGrant(strategy, user, target[0], target[1] ? target[1].until - Date.now() : 0);
    },
    async endAll(options = {}) {
      const { user, grant } = await mine();
      if (user) await endEntries(strategy, user, (g) => g === grant);
      if (!options.exceptCurrent) await endCurrent();
    },
  };
}

/**
 * Ends every session of a user (by Space profile id) in this app, for operators: e.g. when
 * someone leaves. Each is marked ended in Redis (every app process refuses its cookie from
 * then on) and its refresh token revoked at Space when its access token still works (best
 * effort). Resolves to how many sessions were ended.
 */
export async function endSpaceSessionsOf(userId: string, options: { strategy: SpaceStrategy }): Promise<number> {
  if (typeof userId !== 'string' || userId === '') throw new TypeError('endSpaceSessionsOf requires a Space profile id');
  const strategy = options?.strategy;
  if (!strategy || typeof (strategy as Partial<SpaceStrategy>).refresh !== 'function') throw new TypeError('endSpaceSessionsOf requires a "strategy" option: the SpaceStrategy instance');
  return endEntries(strategy, userHash(userId), () => false);
}
