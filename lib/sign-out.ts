import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { prefersJSON } from './respond';
import { safeReturnTo } from './return-to';
import { clearTokens, readTokens, sessionOf } from './session-tokens';
import type { SpaceStrategy } from './strategy';
import { DEFAULT_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT, DEFAULT_TOKEN_TTL, TokenStore, type RedisLike } from './token-store';

/** Options of {@link spaceSignOut}. */
export interface SpaceSignOutOptions {
  /** The SpaceStrategy instance the users signed in with. */
  strategy: SpaceStrategy;
  /** The ioredis client given to spaceTokenRefresh: marks the sign-in's tokens dead there too. */
  redis?: RedisLike;
  /** The `keyPrefix` given to spaceTokenRefresh. Default `'space:'`. */
  keyPrefix?: string;
  /** Where browsers land afterwards; a safe `returnTo` in the body or query wins. Default `'/'`. */
  redirectTo?: string;
  /** Revoke the refresh token at Space (best effort). Default true. */
  revoke?: boolean;
  /** Longest wait for Space's revocation, ms. Default 3000. */
  revokeTimeout?: number;
  /**
   * Also end the user's Space session: the browser is sent to Space's login page
   * (`request_credentials=required`), which signs it out of Space. Default false.
   */
  endSpaceSession?: boolean;
  /** The session cookie's name (express-session's `name` option), cleared afterwards. Default `'connect.sid'`. */
  cookieName?: string;
}

/**
 * A sign-out route: revokes the refresh token at Space
 * (`DELETE .../oauth-consents/me/refresh-tokens/self`, best effort, with a timeout), removes
 * the tokens from Redis, signs the user out of Passport, destroys the session, then
 * redirects (browsers) or answers 204 (API calls). Mount it on a POST route behind your
 * CSRF protection: `app.post('/auth/signout', csrf, spaceSignOut({ strategy, redis }))`.
 */
export function spaceSignOut(options: SpaceSignOutOptions): RequestHandler {
  if (!options || !options.strategy || typeof options.strategy.createSignInURL !== 'function') {
    throw new TypeError('spaceSignOut requires a "strategy" option: the SpaceStrategy instance');
  }
  const redirectTo = options.redirectTo ?? '/';
  if (safeReturnTo(redirectTo) === undefined) {
    throw new TypeError(`spaceSignOut option "redirectTo" must be a local path like "/", got ${JSON.stringify(redirectTo)}`);
  }
  const { strategy } = options;
  const key = strategy.settings.sessionKey;
  const revokeTimeout = options.revokeTimeout ?? 3000;
  // Only tombstones are written here, so no lock is ever taken (lockTTL is unused).
  const store = options.redis
    ? new TokenStore(options.redis, { prefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX, ttl: DEFAULT_TOKEN_TTL, lockTTL: 1, commandTimeout: DEFAULT_REDIS_TIMEOUT })
    : undefined;

  return async function spaceSignOutHandler(req: Request, res: Response, next: NextFunction): Promise<void> {
    try {
      const tokens = readTokens(sessionOf(req), key);
      if (tokens && options.revoke !== false) {
        await strategy.revokeRefreshToken(tokens.accessToken, { signal: AbortSignal.timeout(revokeTimeout) }).catch(() => undefined);
      }
      // A stale copy of these tokens, written back by a request still running, is dead too.
      if (tokens && store) await store.tombstone(tokens.grant);
      clearTokens(sessionOf(req), key);
      const body = (req.body ?? {}) as Record<string, unknown>;
      const target = safeReturnTo(body.returnTo) ?? safeReturnTo((req.query as Record<string, unknown>).returnTo) ?? redirectTo;

      const logout = (req as unknown as { logout?: (cb: (err?: unknown) => void) => void }).logout;
      if (typeof logout === 'function') await new Promise<void>((resolve, reject) => logout.call(req, (err) => (err ? reject(err) : resolve())));
      const session = sessionOf(req) as { destroy?: (cb: (err?: unknown) => void) => void; cookie?: { path?: string; domain?: string } } | undefined;
      const cookiePath = session?.cookie?.path ?? '/';
      const cookieDomain = session?.cookie?.domain;
      if (options.endSpaceSession && !prefersJSON(req)) {
        // Keep the (new, empty) session for the pending sign-in that ends the Space session.
        res.set('Cache-Control', 'no-store');
        return void res.redirect(strategy.createSignInURL(req, { requestCredentials: 'required', returnTo: target }));
      }
      if (session?.destroy) await new Promise<void>((resolve, reject) => session.destroy!((err) => (err ? reject(err) : resolve())));
      res.clearCookie(options.cookieName ?? 'connect.sid', cookieDomain ? { path: cookiePath, domain: cookieDomain } : { path: cookiePath });
      res.set('Cache-Control', 'no-store');
      if (prefersJSON(req)) return void res.status(204).end();
      res.redirect(target);
    } catch (err) {
      next(err);
    }
  };
}
