import { isRecord } from '../core/checks';

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

/**
 * The token set as kept server-side in the session, with two bookkeeping fields the
 * refresh middleware needs: `grant` names this sign-in's token lineage (the Redis key of
 * the authoritative copy and of the refresh lock), `version` counts renewals so that an
 * older copy can never win over a newer one.
 */
export interface StoredTokenSet extends SpaceTokenSet {
  issuedAt: number;
  grant: string;
  version: number;
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
    return { ok: false, problem: `"token_type" is ${JSON.stringify(typeof tokenType === 'string' ? tokenType.slice(0, 20) : typeof tokenType)}, not Bearer` };
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

/**
 * The one rule for refresh tokens after a renewal: a new refresh token replaces the old one
 * (rotation, RFC 6749 §6); no refresh token in the answer keeps the old one, which is what
 * Space's own clients do (docs/space-api.md#refresh).
 */
export function keptRefreshToken(answer: Pick<SpaceTokenSet, 'refreshToken'>, previous: string | undefined): string | undefined {
  return answer.refreshToken ?? previous;
}

/** The token set after a renewal, one version up. */
export function mergeRenewed(previous: StoredTokenSet, renewed: SpaceTokenSet, issuedAt: number): StoredTokenSet {
  const next: StoredTokenSet = {
    accessToken: renewed.accessToken,
    expiresAt: renewed.expiresAt,
    tokenType: renewed.tokenType,
    issuedAt,
    grant: previous.grant,
    version: previous.version + 1,
  };
  const refreshToken = keptRefreshToken(renewed, previous.refreshToken);
  if (refreshToken) next.refreshToken = refreshToken;
  const scope = renewed.scope ?? previous.scope;
  if (scope) next.scope = scope;
  return next;
}

/**
 * True while the access token stays valid for at least the skew. The skew is capped at
 * half the token's lifetime, so a token that Space issues for less than twice the skew
 * is not renewed on every request; and a token is never renewed within {@link MIN_RENEW_INTERVAL}
 * of its issue (Space answering `expires_in: 0` must not mean one renewal per request).
 */
export function isFresh(tokens: Pick<StoredTokenSet, 'expiresAt' | 'issuedAt'>, skewMs: number, now: number): boolean {
  if (now - tokens.issuedAt < MIN_RENEW_INTERVAL && now >= tokens.issuedAt) return true;
  const lifetime = Math.max(0, tokens.expiresAt - tokens.issuedAt);
  const skew = Math.min(skewMs, lifetime / 2);
  return tokens.expiresAt - now > skew;
}

/** The floor on renewals: a token is used for at least this long after it was issued, ms. */
export const MIN_RENEW_INTERVAL = 1000;

/**
 * The public view of a stored token set (no bookkeeping fields). Stored times are in the
 * shared clock (clock.ts); `offset` (shared − local) turns `expiresAt` into this process's clock.
 */
export function publicView(tokens: StoredTokenSet, offset = 0): SpaceTokenSet {
  const view: SpaceTokenSet = { accessToken: tokens.accessToken, expiresAt: tokens.expiresAt - offset, tokenType: tokens.tokenType };
  if (tokens.refreshToken) view.refreshToken = tokens.refreshToken;
  if (tokens.scope) view.scope = tokens.scope;
  return view;
}

/** Checks that a value read back from a session or from Redis is a stored token set. */
export function isStoredTokenSet(value: unknown): value is StoredTokenSet {
  return isRecord(value)
    && typeof value.accessToken === 'string'
    && typeof value.expiresAt === 'number'
    && typeof value.issuedAt === 'number'
    && typeof value.grant === 'string'
    && typeof value.version === 'number'
    && (value.refreshToken === undefined || typeof value.refreshToken === 'string');
}
