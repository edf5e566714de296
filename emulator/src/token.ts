/**
 * The token endpoint, `POST /oauth/token`: authorization-code, refresh-token and client-credentials grants.
 *
 * Request and answer shapes follow docs/space-api.md#token-endpoint; where Space is silent the emulator follows
 * RFC 6749 (errors as JSON with 400, 401 for `invalid_client`) and RFC 7636 (PKCE).
 */
import { createHash } from 'node:crypto';
import { authenticateClient, type ClientAuthMethod } from './client-auth.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { randomToken, type Grant } from './grants.js';
import type { SpaceEmulatorClient } from './options.js';
import type { Params } from './params.js';
import { jsonReply, oauthError, type Reply } from './reply.js';
import { scopeCovers } from './scope.js';

/** RFC 7636 §4.1: 43 to 128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * Signs a new access token of `grant` for `scope`, valid for `accessTokenTTL` seconds, with the
 * claims Space's tokens carry: `principal_type`, `orgDomain` and `name` (username, or the
 * application's name for a `SERVICE` token, whose `sub` is the client id).
 */
export function issueAccessToken(state: EmulatorState, grant: Grant, scope: string): string {
  const now = state.now();
  const iat = Math.floor(now / 1000);
  // Round exp up: a client that trusts expires_in must never see the token die early.
  const exp = Math.ceil((now + state.options.accessTokenTTL * 1000) / 1000);
  const jti = randomToken(16);
  state.store.recordAccessToken(jti, grant.id, exp * 1000);
  const service = grant.principal === 'SERVICE';
  const name = service
    ? state.clients.get(grant.clientID)?.name ?? grant.clientID
    : state.users.find((u) => u.id === grant.userID)?.username ?? grant.userID;
  return state.signer.sign({
    iss: state.url, sub: service ? grant.clientID : grant.userID, aud: grant.clientID,
    principal_type: grant.principal, orgDomain: state.options.orgDomain, name,
    iat, exp, jti, scope, grant_id: grant.id,
  });
}

/** The success answer (RFC 6749 §5.1); `token_type` and `scope` are options because Space's are [unconfirmed]. */
function tokenAnswer(state: EmulatorState, grant: Grant, scope: string, refreshToken: string | null): Reply {
  const body: Record<string, string | number> = { access_token: issueAccessToken(state, grant, scope) };
  if (state.options.includeTokenType) body.token_type = 'Bearer';
  body.expires_in = state.options.accessTokenTTL;
  if (refreshToken !== null) body.refresh_token = refreshToken;
  if (state.options.includeScope) body.scope = scope;
  return jsonReply(200, body, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

function checkPKCE(state: EmulatorState, req: EmulatorRequest, form: Params, challenge: string | null, method: string | null): Reply | null {
  const verifier = form.get('code_verifier');
  if (challenge === null) {
    // RFC 9700 §2.1.1: a verifier without a stored challenge is a PKCE downgrade attempt.
    if (verifier !== undefined) return oauthError('invalid_grant', 'code_verifier was sent, but the authorization request had no code_challenge.');
    return null;
  }
  if (verifier === undefined) return oauthError('invalid_grant', 'code_verifier is missing.');
  if (!VERIFIER.test(verifier)) {
    if (verifier.length < 43) req.warn('code_verifier is shorter than 43 characters');
    return oauthError('invalid_grant', 'code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~].');
  }
  if (state.store.noteVerifier(verifier)) req.warn('code_verifier was used before');
  const computed = method === 'S256' ? createHash('sha256').update(verifier, 'ascii').digest('base64url') : verifier;
  if (computed !== challenge) return oauthError('invalid_grant', 'code_verifier does not match the code_challenge.');
  return null;
}

function authorizationCodeGrant(state: EmulatorState, req: EmulatorRequest, form: Params, client: SpaceEmulatorClient): Reply {
  const value = form.get('code');
  if (value === undefined || value === '') return oauthError('invalid_request', 'code is missing.');
  const code = state.store.findCode(value);
  if (!code) return oauthError('invalid_grant', 'The authorization code is invalid.');
  if (code.clientID !== client.clientID) return oauthError('invalid_grant', 'The authorization code was issued to another client.');
  if (code.used) {
    // RFC 6749 §4.1.2: a replayed code should revoke the tokens it already produced.
    if (code.grantID !== null) state.store.revokeGrant(code.grantID);
    return oauthError('invalid_grant', 'The authorization code has already been used.');
  }
  if (state.store.isExpired(code)) return oauthError('invalid_grant', 'The authorization code has expired.');
  // Single use means single attempt: a failed exchange burns the code too.
  code.used = true;

  const redirectURI = form.get('redirect_uri');
  if (redirectURI === undefined) return oauthError('invalid_request', 'redirect_uri is missing.');
  if (redirectURI !== code.redirectURI) return oauthError('invalid_grant', 'redirect_uri does not match the authorization request.');
  if (code.codeChallenge === null && (client.clientSecret === undefined || state.options.requirePKCE)) {
    // Checked at /oauth/auth already; repeated in case the code predates a configuration change.
    return oauthError('invalid_grant', 'This client must use PKCE.');
  }
  const pkceError = checkPKCE(state, req, form, code.codeChallenge, code.codeChallengeMethod);
  if (pkceError) return pkceError;

  // docs/space-api.md#authorization-endpoint: offline access gets a refresh token on the first exchange for this user only;
  // whether again after a revocation is unconfirmed, so `refreshTokens` plays each plausible Space.
  const mode = state.options.refreshTokens;
  const withRefreshToken = code.accessType === 'offline' && (mode === 'every-exchange'
    || (mode === 'once' ? !state.store.everIssuedRefreshToken(client.clientID, code.userID) : !state.store.hasIssuedRefreshToken(client.clientID, code.userID)));
  const grant = state.store.createGrant(client.clientID, code.userID, code.scope, withRefreshToken);
  code.grantID = grant.id;
  return tokenAnswer(state, grant, grant.scope, grant.refreshToken);
}

function refreshTokenGrant(state: EmulatorState, form: Params, client: SpaceEmulatorClient): Reply {
  const token = form.get('refresh_token');
  if (token === undefined || token === '') return oauthError('invalid_request', 'refresh_token is missing.');
  const found = state.store.findRefreshToken(token);
  if (!found) return oauthError('invalid_grant', 'The refresh token is invalid.');
  const { grant, live } = found;
  // D-RT: refresh tokens are bound to the client they were issued to.
  if (grant.clientID !== client.clientID) return oauthError('invalid_grant', 'The refresh token was issued to another client.');
  if (!live) {
    // Strict rotation: a replayed old token means it leaked, so the whole family dies (RFC 9700 §4.14.2).
    // Every replay counts, also into an already revoked family: a correct client never sends one.
    state.store.reuseCount += 1;
    state.store.revokeGrant(grant.id);
    return oauthError('invalid_grant', 'The refresh token was already used; the grant has been revoked.');
  }
  if (grant.revoked) return oauthError('invalid_grant', 'The refresh token has been revoked.');

  let scope = grant.scope;
  if (form.has('scope')) {
    // docs/space-api.md#refresh: the docs call scope required, the Kotlin SDK omits it; absent = as granted.
    scope = form.get('scope')?.trim() ?? '';
    if (!scopeCovers(grant.scope, scope)) return oauthError('invalid_scope', 'The requested scope is empty or exceeds the scope originally granted.');
  }
  const newRefreshToken = state.options.rotateRefreshTokens ? state.store.newRefreshToken(grant) : null;
  return tokenAnswer(state, grant, scope, newRefreshToken);
}

/**
 * RFC 6749 §4.4: the application's own token. Space documents HTTP Basic for it, so a client
 * that sends its secret in the body (even where `acceptClientSecretPost` allows that for other
 * grants) or has no secret is refused; scope defaults to `**`; no refresh token (§4.4.3).
 */
function clientCredentialsGrant(state: EmulatorState, form: Params, client: SpaceEmulatorClient, method: ClientAuthMethod): Reply {
  if (method === 'none') return oauthError('unauthorized_client', 'A public client cannot use the client credentials grant.');
  if (method !== 'client_secret_basic') return oauthError('invalid_client', 'The client credentials grant needs HTTP Basic client authentication.');
  const scope = form.get('scope')?.trim() || '**';
  const grant = state.store.createTokenGrant({ clientID: client.clientID, userID: '', scope, principal: 'SERVICE', permanent: false });
  return tokenAnswer(state, grant, scope, null);
}

/** `POST /oauth/token`. */
export function handleToken(state: EmulatorState, req: EmulatorRequest): Reply {
  if (req.mediaType !== 'application/x-www-form-urlencoded') {
    return oauthError('invalid_request', 'The body must be application/x-www-form-urlencoded.');
  }
  const form = req.form;
  if (form === null) return oauthError('invalid_request', 'The body is not valid form encoding.');
  const dups = form.duplicates();
  if (dups.length > 0) return oauthError('invalid_request', `Repeated parameter: ${dups.join(', ')}`);

  const auth = authenticateClient(state, req, form);
  if (!auth.ok) return auth.reply;

  const grantType = form.get('grant_type');
  if (grantType === undefined || grantType === '') return oauthError('invalid_request', 'grant_type is missing.');
  switch (grantType) {
    case 'authorization_code':
      return authorizationCodeGrant(state, req, form, auth.client);
    case 'refresh_token':
      return refreshTokenGrant(state, form, auth.client);
    case 'client_credentials':
      return clientCredentialsGrant(state, form, auth.client, auth.method);
    default:
      return oauthError('unsupported_grant_type', 'The grant type is not supported by this Space emulator.');
  }
}
