import { isRecord } from '../core';
import { cleanText } from './call';

/** The tokens of a signed-in user, as `req.spaceTokens` shows them. */
export interface SpaceTokenSet {
  accessToken: string;
  /** Present when Space issued one (`access_type=offline`, first sign-in of the user in this app). */
  refreshToken?: string;
  /** When the access token expires, epoch milliseconds. */
  expiresAt: number;
  /** The granted scope, space-separated, when Space said it (or the scope that was asked for). */
  scope?: string;
  /** Always `'Bearer'` for Space. */
  tokenType: string;
}

/** Lifetime assumed when Space leaves out `expires_in` (it is not documented as optional). */
export const DEFAULT_LIFETIME_SECONDS = 600;

export type TokenParseResult =
  | { ok: true; tokens: SpaceTokenSet; issuedAt: number }
  | { ok: false; problem: string };

/**
 * Validates a token endpoint answer (RFC 6749 §5.1) and converts it. `expires_in` may be
 * a number or a numeric string; `token_type` is case-insensitive and must be Bearer when
 * present (Space does not document it). Anything else is refused, never guessed at.
 */
export function parseTokenResponse(body: unknown, now: number, requestedScope?: string): TokenParseResult {
  if (!isRecord(body)) return { ok: false, problem: 'the body is not a JSON object' };
  const { access_token: accessToken, refresh_token: refreshToken, token_type: tokenType, expires_in: expiresIn, scope } = body;
  if (typeof accessToken !== 'string' || accessToken.length === 0) {
    return { ok: false, problem: '"access_token" is missing or not a non-empty string' };
  }
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    return { ok: false, problem: `"token_type" is ${JSON.stringify(typeof tokenType === 'string' ? cleanText(tokenType, [], 20) : typeof tokenType)}, not Bearer` };
  }
  if (refreshToken !== undefined && refreshToken !== null && (typeof refreshToken !== 'string' || refreshToken.length === 0)) {
    return { ok: false, problem: '"refresh_token" is not a non-empty string' };
  }
  let lifetime = DEFAULT_LIFETIME_SECONDS;
  if (expiresIn !== undefined && expiresIn !== null) {
    const n = typeof expiresIn === 'string' && /^\d{1,10}$/.test(expiresIn) ? Number(expiresIn) : expiresIn;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 10 * 365 * 86400) {
      return { ok: false, problem: '"expires_in" is not a non-negative number of seconds' };
    }
    lifetime = n;
  }
  const tokens: SpaceTokenSet = { accessToken, expiresAt: now + lifetime * 1000, tokenType: 'Bearer' };
  if (typeof refreshToken === 'string') tokens.refreshToken = refreshToken;
  if (typeof scope === 'string' && scope.length > 0) tokens.scope = scope;
  else if (requestedScope) tokens.scope = requestedScope;
  return { ok: true, tokens, issuedAt: now };
}
