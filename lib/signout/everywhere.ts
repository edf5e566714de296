import type { Request } from 'express';
import { SpaceSessionEndedError } from '../core';
import { describeAgent, endEntries, endGrant, handle, liveEntries, readIndex, userHash } from '../members';
import { endSignIn, runtimeOf } from '../runtime';
import { sessionOf } from '../session';
import type { SpaceStrategy } from '../strategy';
import { audit, auditing, memberOf } from '../telemetry';

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
  const runtime = runtimeOf(req);
  if (!runtime) throw new TypeError('spaceSessions(req) needs spaceTokenRefresh() mounted before this route');
  const mine = async (): Promise<{ user: string | null; grant: string }> => {
    const grant = runtime.session.grantOf(sessionOf(req));
    if (!grant || !req.spaceTokens) throw new SpaceSessionEndedError('Not signed in with Space');
    return { user: await runtime.kv.get(runtime.keys.owner(grant)), grant };
  };
  const endCurrent = () => endSignIn(runtime, req, { revoke: true, mark: true, reason: 'ended_everywhere' });
  /** The audit event of ending sessions; the member read before this session's own ends (Passport forgets it). */
  const ended = (member: ReturnType<typeof memberOf>, reason: string, count: number) => {
    if (auditing(runtime)) audit(runtime, { type: 'ended_everywhere', outcome: 'success', member, browser: describeAgent(req.get('user-agent')), reason, count });
  };
  return {
    async list() {
      const { user, grant } = await mine();
      if (!user) return [];
      const entries = await liveEntries(runtime, user);
      return entries
        .map(([g, e]) => ({ id: handle(g), current: g === grant, startedAt: e.startedAt, lastSeen: e.lastSeen, agent: e.agent }))
        .sort((a, b) => b.startedAt - a.startedAt);
    },
    async end(id) {
      const { user, grant } = await mine();
      if (!user || typeof id !== 'string') return;
      const entries = await readIndex(runtime, user);
      const target = [...entries].find(([g]) => handle(g) === id);
      if (!target) return;
      const member = memberOf(req.user);
      if (target[0] === grant) await endCurrent();
      else await endGrant(runtime, user, target[0], target[1] ? target[1].until - Date.now() : 0);
      ended(member, 'one_session', 1);
    },
    async endAll(options = {}) {
      const { user, grant } = await mine();
      const member = memberOf(req.user);
      // Every session, this one included, is marked ended before Space is asked to revoke any.
      const others = await endEntries(runtime, user, (g) => g === grant, options.exceptCurrent ? undefined : req);
      ended(member, options.exceptCurrent ? 'all_other_sessions' : 'all_sessions', others + (options.exceptCurrent ? 0 : 1));
    },
  };
}

/**
 * Ends every session of a user (by Space profile id) in this app, for operators: e.g. when
 * someone leaves. All are marked ended in Redis first, together (every app process refuses
 * their cookies from then on); then the member's refresh tokens are revoked at Space, in
 * parallel (best effort, within a few seconds). Resolves to how many sessions were ended.
 */
export async function endSpaceSessionsOf(userId: string, options: { strategy: SpaceStrategy }): Promise<number> {
  if (typeof userId !== 'string' || userId === '') throw new TypeError('endSpaceSessionsOf requires a Space profile id');
  const strategy = options?.strategy;
  if (!strategy || typeof (strategy as Partial<SpaceStrategy>).refresh !== 'function') throw new TypeError('endSpaceSessionsOf requires a "strategy" option: the SpaceStrategy instance');
  const count = await endEntries(strategy.runtime, userHash(userId), () => false);
  if (auditing(strategy.runtime)) audit(strategy.runtime, { type: 'ended_everywhere', outcome: 'success', member: { id: userId.slice(0, 256) }, reason: 'operator', count });
  return count;
}
