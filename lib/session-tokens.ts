import type { Request } from 'express';
import { isStoredTokenSet, type StoredTokenSet } from './token-set';
import { sessionData, type SpaceSessionData } from './transactions';

/**
 * Tokens live in the session under `req.session[sessionKey].tokens`: with express-session
 * and connect-redis that is the session's value in Redis, never the cookie, which carries
 * only the signed session id.
 */
export function readTokens(session: Record<string, unknown> | undefined, key: string): StoredTokenSet | undefined {
  const data = session?.[key] as SpaceSessionData | undefined;
  const tokens = data && typeof data === 'object' ? data.tokens : undefined;
  return isStoredTokenSet(tokens) ? tokens : undefined;
}

export function writeTokens(session: Record<string, unknown>, key: string, tokens: StoredTokenSet): void {
  sessionData(session, key).tokens = tokens;
}

export function clearTokens(session: Record<string, unknown> | undefined, key: string): void {
  const data = session?.[key] as SpaceSessionData | undefined;
  if (data && typeof data === 'object') delete data.tokens;
}

/** `req.session` without depending on express-session's type augmentation. */
export function sessionOf(req: Request): Record<string, unknown> | undefined {
  return (req as unknown as { session?: Record<string, unknown> }).session;
}

/**
 * Passport ≥ 0.6 regenerates the session in `req.logIn` (against session fixation) and
 * drops what was in it. For this request's next `req.logIn`, the tokens are written into
 * the new session once the login is done, so they survive without `keepSessionInfo`, and
 * replace any earlier user's tokens. Sign-ins still pending in other tabs of this browser
 * move along; nothing else of the old session is carried over (passport's choice).
 */
export function keepTokensThroughLogIn(req: Request, key: string, tokens: StoredTokenSet, returnTo: string | undefined): void {
  const original = req.logIn;
  const wrapped = function logIn(this: Request, user: Express.User, optionsOrDone: unknown, maybeDone?: (err?: unknown) => void): void {
    const done = (typeof optionsOrDone === 'function' ? optionsOrDone : maybeDone) as (err?: unknown) => void;
    const options = (typeof optionsOrDone === 'function' ? {} : optionsOrDone ?? {}) as { session?: boolean };
    req.login = req.logIn = original;
    const pending = (sessionOf(req)?.[key] as SpaceSessionData | undefined)?.pending;
    original.call(req, user, options as never, (err?: unknown) => {
      const session = sessionOf(req);
      if (err || options.session === false || !session) return done(err);
      writeTokens(session, key, tokens);
      if (pending && Object.keys(pending).length > 0) sessionData(session, key).pending = pending;
      // passport's `successReturnToOrRedirect` reads this.
      if (returnTo) session.returnTo = returnTo;
      done();
    });
  };
  req.login = req.logIn = wrapped as typeof req.logIn;
}
