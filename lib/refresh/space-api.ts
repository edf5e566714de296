import type { Request } from 'express';
import { SpaceApiError } from '../core/errors';
import { strategyOf } from '../runtime/request-context';
import { SpaceSessionEndedError } from '../core/errors';
import { renewNow } from './middleware';
import { endSignIn } from '../signout/end-sign-in';
import type { SpaceApiCallOptions } from '../space/client';

/** Calls Space's HTTP API as the signed-in user. Paths are relative to `/api/http/`. */
export interface SpaceApi {
  get<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  request<T = unknown>(method: string, path: string, options?: SpaceApiCallOptions): Promise<T>;
}

/** Space's answer when a token it issued has run out (docs/space-api.md#api-errors). */
function isExpiredTokenError(err: unknown): boolean {
  return err instanceof SpaceApiError && err.status === 401 && err.error === 'authentication-required'
    && err.errorDescription === 'Access token has expired';
}

/** Space's answer once the grant behind a token was revoked (the user removed the app). */
function isRevokedGrantError(err: unknown): boolean {
  return err instanceof SpaceApiError && err.status === 401 && err.error === 'authentication-required'
    && err.errorDescription === 'Refresh token associated with the access token is revoked';
}

/**
 * A small client for Space's HTTP API bound to the request's user: bearer token from
 * `req.spaceTokens`, the strategy's timeout, Space's errors as {@link SpaceApiError}, and,
 * when Space says "Access token has expired" although our clock disagreed, one renewal
 * and one retry (as JetBrains' Kotlin SDK does). When Space says the grant was revoked,
 * the user is signed out and a {@link SpaceSessionEndedError} thrown (spaceErrorHandler
 * sends browsers to sign in again). Needs `spaceTokenRefresh()` mounted.
 *
 * ```ts
 * const me = await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'id,username' } });
 * ```
 */
export function spaceApi(req: Request): SpaceApi {
  const strategy = strategyOf(req);
  if (!strategy) throw new TypeError('spaceApi(req) needs spaceTokenRefresh() mounted before this route');
  const request = async <T>(method: string, path: string, options: SpaceApiCallOptions = {}): Promise<T> => {
    const tokens = req.spaceTokens;
    if (!tokens) throw new SpaceSessionEndedError('Not signed in with Space');
    const signOutIfRevoked = async (err: unknown): Promise<never> => {
      if (isRevokedGrantError(err)) {
        await endSignIn(strategy, req, { revoke: false, mark: true, reason: 'revoked_in_space' });
        throw new SpaceSessionEndedError('The Space sign-in was revoked in Space; sign in again');
      }
      throw err;
    };
    try {
      return (await strategy.callApi(tokens.accessToken, method, path, options)).json as T;
    } catch (err) {
      if (!isExpiredTokenError(err)) return signOutIfRevoked(err);
      const renewed = await renewNow(strategy, req);
      try {
        return (await strategy.callApi(renewed.accessToken, method, path, options)).json as T;
      } catch (retryErr) {
        return signOutIfRevoked(retryErr);
      }
    }
  };
  return {
    request,
    get: (path, options) => request('GET', path, options),
    delete: (path, options) => request('DELETE', path, options),
    post: (path, body, options) => request('POST', path, { ...options, body }),
    patch: (path, body, options) => request('PATCH', path, { ...options, body }),
  };
}
