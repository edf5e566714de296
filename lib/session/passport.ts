import type { Request } from 'express';
import { isRecord } from '../core';
import { sessionOf } from './session';

/**
 * What the library can tell of Passport's part of a request, to name a middleware mounted in the
 * wrong order (or not at all) instead of failing later with a misleading "not signed in".
 */

/**
 * True when the session holds a Passport user (what `serializeUser` stored at login), whether or
 * not `passport.session()` has turned it into `req.user` yet. Passport keeps it under
 * `req.session.passport.user` (the key its session manager names).
 */
export function sessionHoldsUser(req: Request): boolean {
  const key = (req as unknown as { _sessionManager?: { _key?: unknown } })._sessionManager?._key;
  const data = sessionOf(req)?.[typeof key === 'string' ? key : 'passport'];
  if (!isRecord(data)) return false;
  // Passport's own rule for "there is a user": any truthy value, or 0.
  return Boolean(data.user) || data.user === 0;
}

/** True when Passport has put a user on this request (`req.user`, or the `userProperty` passport.initialize() was given). */
export function requestHasUser(req: Request): boolean {
  const isAuthenticated = (req as { isAuthenticated?: () => boolean }).isAuthenticated;
  if (typeof isAuthenticated === 'function') return isAuthenticated.call(req);
  return Boolean((req as { user?: unknown }).user);
}

/**
 * The session holds a user but the request has none: `passport.session()` has not run before this
 * point (not mounted, or mounted after). deserializeUser answering "no user" is not this: Passport
 * then removes the user from the session.
 */
export function passportSessionMissing(req: Request): boolean {
  return sessionHoldsUser(req) && !requestHasUser(req);
}

/** The order the parts must be mounted in, for messages. */
export const MOUNT_ORDER = 'app.use(session(...)), app.use(passport.initialize()), app.use(passport.session()), then app.use(spaceTokenRefresh({ strategy })) and your routes';
