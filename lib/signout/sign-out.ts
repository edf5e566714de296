import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { bindRequest, bindShared, endSignIn } from '../runtime';
import { prefersJSON, safeReturnTo } from '../web';
import { destroySession, sessionOf } from '../session';
import { forgetSignInCompleted } from '../signin';
import { SHARED_OPTION_NAMES, type SpaceSharedOptions } from '../config';
import type { SpaceStrategy } from '../strategy';
import { boolean, number, onlyKnown } from '../core';
import { describeAgent } from '../members';
import { fingerprint } from '../store';
import { audit, auditing, memberOf, type Operation, traced } from '../telemetry';

/** Options of {@link spaceSignOut}. The shared settings (`redis`, `keyPrefix`, `cookieName`) come from the strategy. */
export interface SpaceSignOutOptions extends SpaceSharedOptions {
  /** The SpaceStrategy instance the users signed in with. */
  strategy: SpaceStrategy;
  /** Where browsers land afterwards; a safe `returnTo` in the body or query wins. Default `'/'`. */
  redirectTo?: string;
  /** Revoke the refresh token at Space (best effort). Default true. */
  revoke?: boolean;
  /** Longest wait for Space's revocation (and a renewal it may need), ms. Default 3000. */
  revokeTimeout?: number;
  /**
   * Also end the user's Space session: the browser is sent to Space's login page
   * (`request_credentials=required`), which signs it out of Space. Default false.
   */
  endSpaceSession?: boolean;
}

const OWNER = 'spaceSignOut';
/** Every option name spaceSignOut accepts; any other is a TypeError. */
export const SIGN_OUT_OPTION_NAMES = ['strategy', 'redirectTo', 'revoke', 'revokeTimeout', 'endSpaceSession', ...SHARED_OPTION_NAMES] as const;

/**
 * A sign-out route. Before it answers: the sign-in is marked ended in Redis (no copy of the
 * session written back by a request still running authenticates again, and no renewal in
 * flight can store tokens), the refresh token is revoked at Space with a token that works
 * (best effort: Space being away never keeps anyone signed in), Passport logs out, the
 * session is destroyed and its cookie cleared. Then it redirects (browsers) or answers 204
 * (API calls). Mount it on a POST route behind your CSRF protection:
 * `app.post('/auth/signout', csrf, spaceSignOut({ strategy }))`.
 */
export function spaceSignOut(options: SpaceSignOutOptions): RequestHandler {
  onlyKnown(OWNER, options ?? {}, SIGN_OUT_OPTION_NAMES);
  const { redirectTo: redirectOption, revoke, revokeTimeout: timeoutOption, endSpaceSession, ...shared } = (options ?? {}) as SpaceSignOutOptions;
  bindShared(OWNER, shared);
  const strategy = (options as SpaceSignOutOptions).strategy;
  const redirectTo = redirectOption ?? '/';
  if (safeReturnTo(redirectTo) === undefined) {
    throw new TypeError(`spaceSignOut option "redirectTo" must be a local path like "/", got ${JSON.stringify(redirectTo)}`);
  }
  boolean(OWNER, 'revoke', revoke);
  boolean(OWNER, 'endSpaceSession', endSpaceSession);
  const revokeTimeout = number(OWNER, 'revokeTimeout', timeoutOption, { min: 1, integer: true }) ?? 3000;

  /** One sign-out (span `signout`): the sign-in ended, then the session destroyed and the answer sent. */
  const signOut = async (req: Request, res: Response, op: Operation): Promise<void> => {
    const runtime = strategy.runtime;
    bindRequest(req, runtime);
    // Who signs out, read before Passport's logout forgets it.
    const grant = runtime.session.grantOf(sessionOf(req));
    const member = auditing(runtime) ? memberOf((req as { user?: unknown }).user) : undefined;
    if (grant && op.on) op.set('space.grant', fingerprint(grant, 12));
    await endSignIn(strategy.runtime, req, { revoke: revoke !== false, revokeTimeout, mark: true, reason: 'sign_out' });
    strategy.runtime.emit({ event: 'signout' });
    if (grant && auditing(runtime)) audit(runtime, { type: 'signed_out', outcome: 'success', member, browser: describeAgent(req.get('user-agent')), grant: fingerprint(grant, 12) });
    const body = (req.body ?? {}) as Record<string, unknown>;
    const target = safeReturnTo(body.returnTo) ?? safeReturnTo((req.query as Record<string, unknown>).returnTo) ?? redirectTo;
    const session = sessionOf(req);
    const cookiePath = session?.cookie && typeof (session.cookie as { path?: unknown }).path === 'string' ? (session.cookie as { path: string }).path : '/';
    const cookieDomain = (session?.cookie as { domain?: string } | undefined)?.domain;
    res.set('Cache-Control', 'no-store');
    if (endSpaceSession && !prefersJSON(req)) {
      // Signing in again right away is a new sign-in, not one that "did not stick".
      forgetSignInCompleted(strategy, req, res);
      // Keep the (new, empty) session for the pending sign-in that ends the Space session.
      return void res.redirect(await strategy.createSignInURL(req, { requestCredentials: 'required', returnTo: target }));
    }
    await destroySession(req);
    res.clearCookie(strategy.shared.settings.cookieName, cookieDomain ? { path: cookiePath, domain: cookieDomain } : { path: cookiePath });
    forgetSignInCompleted(strategy, req, res);
    if (prefersJSON(req)) return void res.status(204).end();
    res.redirect(target);
  };

  return async function spaceSignOutHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      await traced('signout', (op) => signOut(req, res, op));
    } catch (err) {
      next(err);
    }
  };
}
