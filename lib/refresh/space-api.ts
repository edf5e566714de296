import type { Request } from 'express';
import { endSignIn, runtimeOf } from '../runtime';
import { SpaceSessionEndedError } from '../core';
import { renewNow } from './middleware';
import { isExpiredTokenError, isRevokedGrantError, type SpaceApiCallOptions } from '../space';
import { describeAgent } from '../members';
import { sessionOf } from '../session';
import { fingerprint } from '../store';
import { audit, auditing, memberOf } from '../telemetry';

/** Calls Space's HTTP API as the signed-in user. Paths are relative to `/api/http/`. */
export interface SpaceApi {
  get<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  post<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  patch<T = unknown>(path: string, body?: unknown, options?: SpaceApiCallOptions): Promise<T>;
  delete<T = unknown>(path: string, options?: SpaceApiCallOptions): Promise<T>;
  request<T = unknown>(method: string, path: string, options?: SpaceApiCallOptions): Promise<T>;
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
  const runtime = runtimeOf(req);
  if (!runtime) throw new TypeError('spaceApi(req) needs spaceTokenRefresh() mounted before this route');
  const request = async <T>(method: string, path: string, options: SpaceApiCallOptions = {}): Promise<T> => {
    const tokens = req.spaceTokens;
    if (!tokens) throw new SpaceSessionEndedError('Not signed in with Space');
    const signOutIfRevoked = async (err: unknown): Promise<never> => {
      if (isRevokedGrantError(err)) {
        const grant = runtime.session.grantOf(sessionOf(req));
        const member = memberOf(req.user);
        await endSignIn(runtime, req, { revoke: false, mark: true, reason: 'revoked_in_space' });
        if (auditing(runtime)) audit(runtime, { type: 'ended_by_space', outcome: 'success', member, browser: describeAgent(req.get('user-agent')), reason: 'revoked_in_space', grant: grant && fingerprint(grant, 12) });
        throw new SpaceSessionEndedError('The Space sign-in was revoked in Space; sign in again');
      }
      throw err;
    };
    try {
      return (await runtime.host.client.api(tokens.accessToken, method, path, options)).json as T;
    } catch (err) {
      if (!isExpiredTokenError(err)) return signOutIfRevoked(err);
      const renewed = await renewNow(runtime, req);
      try {
        return (await runtime.host.client.api(renewed.accessToken, method, path, options)).json as T;
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
