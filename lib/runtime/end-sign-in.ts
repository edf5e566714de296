import type { Request } from 'express';
import { fingerprint } from '../store';
import { sessionOf } from '../session';
import type { SpaceRuntime } from './runtime';

export interface EndOptions {
  /** Revoke the grant at Space first (best effort, within `revokeTimeout`). */
  revoke: boolean;
  revokeTimeout?: number;
  /** Mark the sign-in ended in Redis (skip when the renewal engine already did). */
  mark: boolean;
  reason: string;
}

/**
 * The one way a sign-in ends, whoever ends it (spaceSignOut, a revoked grant, an operator):
 * marked ended in Redis (and revoked at Space when asked and due: see `SpaceRuntime.finish`) (so no copy of the session, written back
 * later by a request still running, authenticates again, and no renewal in flight can store
 * tokens), the tokens removed from the session, and the user logged out of Passport.
 * Failures to mark or log out are thrown; a failed revocation is not.
 */
export async function endSignIn(runtime: SpaceRuntime, req: Request, options: EndOptions): Promise<void> {
  const session = sessionOf(req);
  const grant = runtime.session.grantOf(session);
  // The tokens are only needed to revoke them; Redis away must not keep anyone signed in.
  const tokens = grant && options.revoke ? await runtime.session.load(session).catch(() => undefined) : runtime.session.read(session);
  if (grant && options.mark) {
    await runtime.finish(grant, { revoke: options.revoke, ttl: runtime.recordTTL(req), timeout: options.revokeTimeout ?? 3000, ...(tokens ? { tokens } : {}) });
  }
  runtime.session.clear(session);
  delete req.spaceTokens;
  runtime.emit({ event: 'session.ended', reason: options.reason, ...(grant ? { grant: fingerprint(grant, 12) } : {}) });
  const logout = (req as unknown as { logout?: (cb: (err?: unknown) => void) => void }).logout;
  if (typeof logout === 'function' && (req as { user?: unknown }).user !== undefined) {
    await new Promise<void>((resolve, reject) => logout.call(req, (err) => (err ? reject(err) : resolve())));
  }
}
