import { SpaceApiError } from '../core';

/**
 * How Space's HTTP API says why it refused a token (docs/space-api.md#api-errors): each is a
 * 401 with `error: authentication-required` and a fixed description. Space's own SDKs renew and
 * retry on the first, and sign the user out on the second.
 */

/** The access token has run out: renew it and retry once. */
export function isExpiredTokenError(err: unknown): boolean {
  return err instanceof SpaceApiError && err.status === 401 && err.error === 'authentication-required'
    && err.errorDescription === 'Access token has expired';
}

/** The grant behind the token was revoked (the member removed the app in Space). */
export function isRevokedGrantError(err: unknown): boolean {
  return err instanceof SpaceApiError && err.status === 401 && err.error === 'authentication-required'
    && err.errorDescription === 'Refresh token associated with the access token is revoked';
}
