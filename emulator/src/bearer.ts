/**
 * Checking the bearer token of an API call, for every kind of token the emulator issues:
 * sign-in access tokens, the application's client-credentials tokens, and permanent tokens
 * (personal and application). Errors use Space's API shape (`authentication-required`).
 */
import type { EmulatorRequest, EmulatorState } from './context.js';
import type { Grant } from './grants.js';
import type { AccessTokenClaims } from './jwt.js';
import { apiError, type Reply } from './reply.js';

/** The checked token: its claims (the grant's scope filled in when the token has none) and its grant. */
export type BearerResult = { ok: true; claims: AccessTokenClaims; grant: Grant } | { ok: false; reply: Reply };

const authenticationRequired = (description: string): BearerResult => ({
  ok: false,
  reply: apiError(401, 'authentication-required', description),
});

/** True when the token's subject is the grant's: the member for USER tokens, the client for SERVICE ones. */
function matchesGrant(claims: AccessTokenClaims, grant: Grant): boolean {
  if (grant.clientID !== claims.aud) return false;
  const subject = grant.principal === 'SERVICE' ? grant.clientID : grant.userID;
  return claims.sub === subject && (claims.principal_type ?? 'USER') === grant.principal;
}

/** Checks a bearer token: signature, grant, revocation, expiry (in that order). */
export function checkBearer(state: EmulatorState, req: EmulatorRequest): BearerResult {
  // RFC 6750 §2.3 allows a query token, but Space clients send the header; the query is ignored.
  if (req.query?.has('access_token')) req.warn('access_token query parameter ignored: Space reads the Authorization header');
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(req.headers.authorization ?? '');
  if (!match?.[1]) return authenticationRequired('Authentication required');
  const claims = state.signer.verify(match[1]);
  const grantID = claims && (typeof claims.perm_token === 'string' ? claims.perm_token : claims.grant_id);
  const grant = typeof grantID === 'string' ? state.store.grant(grantID) : undefined;
  if (!claims || !grant || !matchesGrant(claims, grant)) return authenticationRequired('Authentication required');
  if (grant.revoked) {
    // [inferred] Space's text for a revoked permanent token is not documented.
    return authenticationRequired(grant.permanent ? 'The permanent token has been revoked' : 'Refresh token associated with the access token is revoked');
  }
  const expired = claims.exp !== undefined && state.now() >= claims.exp * 1000;
  if (expired || (claims.jti !== undefined && state.store.isForceExpired(claims.jti))) {
    return authenticationRequired('Access token has expired');
  }
  // Permanent tokens carry no scope claim (like Space's): their grant's scope applies.
  return { ok: true, claims: { ...claims, scope: typeof claims.scope === 'string' ? claims.scope : grant.scope }, grant };
}
