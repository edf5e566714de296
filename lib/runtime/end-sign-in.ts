import type { Request } from 'express';
import { fingerprint } from '../store';
import { sessionOf } from '../session';
import type { SpaceRuntime } from './runtime';
import { isFresh, type StoredTokenSet } from '../tokens';

export interface EndOptions {
  /** Revoke the grant at Space first (best effort, within `revokeTimeout`). */
  revoke: boolean;
  revokeTimeout?: number;
  /** Mark the sign-in ended in Redis (skip when the renewal engine already did). */
  mark: boolean;
  reason: string;
}

/**
 * Revokes at Space with a token that works now: the current access token while it is valid,
 * else one renewal first (single-flight, like any renewal). Best effort: Space down or slow
 * never keeps anyone signed in; it only means the grant dies at Space later, or not at all.
 */
async function revokeAtSpace(runtime: SpaceRuntime, req: Request, tokens: StoredTokenSet, timeout: number): Promise<void> {
  const signal = AbortSignal.timeout(timeout);
  let accessToken: string | undefined = tokens.expiresAt > runtime.clock.now() + 1000 ? tokens.accessToken : undefined;
  if (!accessToken && tokens.refreshToken) {
    const renewal = runtime.engine.renew(tokens, !isFresh(tokens, 0, runtime.clock.now()), runtime.recordTTL(req))
      .then((o) => (o.kind === 'fresh' ? o.tokens.accessToken : undefined), () => undefined);
    const timedOut = new Promise<undefined>((resolve) => signal.addEventListener('abort', () => resolve(undefined), { once: true }));
    accessToken = await Promise.race([renewal, timedOut]);
  }
  if (accessToken && !signal.aborted) await runtime.host.revokeRefreshToken(accessToken, { signal }).catch(() => undefined);
}

/**
 * The one way a sign-in ends, whoever ends it (spaceSignOut, a revoked grant, an operator):
 * optionally revoked at Space, marked ended in Redis (so no copy of the session, written back
 * later by a request still running, authenticates again, and no renewal in flight can store
 * tokens), the tokens removed from the session, and the user logged out of Passport.
 * Failures to mark or log out are thrown; a failed revocation is not.
 */
export async function endSignIn(runtime: SpaceRuntime, req: Request, options: EndOptions): Promise<void> {
  const session = sessionOf(req);
  const grant = runtime.session.grantOf(session);
  // The tokens are only needed to revoke them; Redis away must not keep anyone signed in.
  const tokens = grant && options.revoke ? await runtime.session.load(session).catch(() => undefined) : runtime.session.read(session);
  if (tokens && options.revoke) await revokeAtSpace(runtime, req, tokens, options.revokeTimeout ?? 3000);
  if (grant && options.mark) await runtime.end(grant, req);
  runtime.session.clear(session);
  delete req.spaceTokens;
  runtime.emit({ event: 'session.ended', reason: options.reason, ...(grant ? { grant: fingerprint(grant, 12) } : {}) });
  const logout = (req as unknown as { logout?: (cb: (err?: unknown) => void) => void }).logout;
  if (typeof logout === 'function' && (req as { user?: unknown }).user !== undefined) {
    await new Promise<void>((resolve, reject) => logout.call(req, (err) => (err ? reject(err) : resolve())));
  }
}
