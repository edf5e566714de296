import { isRecord } from '../core';
import type { SpaceTokenSet } from '../space';

export type { SpaceTokenSet };

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
  /**
   * The member's consent this sign-in renews through (`c:<hash>`, see consents.ts): then the
   * refresh token is the consent's, not the sign-in's. Absent for sign-ins without a known
   * member (no profile) and for records written before consents (they move on renewal).
   */
  consent?: string;
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
  if (previous.consent) next.consent = previous.consent;
  return next;
}

/**
 * A sign-in's tokens after it took its member's consent's newest access token: one version up,
 * its own grant and consent, the consent's access token, expiry and scope, and no refresh token
 * (that stays in the consent, one copy per member).
 */
export function adoptFromConsent(signIn: StoredTokenSet, consent: StoredTokenSet): StoredTokenSet {
  const next: StoredTokenSet = {
    accessToken: consent.accessToken,
    expiresAt: consent.expiresAt,
    tokenType: consent.tokenType,
    issuedAt: consent.issuedAt,
    grant: signIn.grant,
    version: signIn.version + 1,
  };
  const scope = consent.scope ?? signIn.scope;
  if (scope) next.scope = scope;
  if (signIn.consent) next.consent = signIn.consent;
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
    && (value.refreshToken === undefined || typeof value.refreshToken === 'string')
    && (value.consent === undefined || typeof value.consent === 'string');
}
