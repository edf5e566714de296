/**
 * The authorization endpoint: `GET /oauth/auth` (sign-in page or auto-approval) and the page's
 * form target `POST /oauth/auth/approve`.
 *
 * Behaviour follows docs/space-api.md#authorization-endpoint Two kinds of error, as RFC 6749 §4.1.2.1 requires: a bad
 * `client_id` or `redirect_uri` gets an HTML error page and never a redirect (so the endpoint is
 * no open redirector); every other error goes back to the client's redirect URI with `error`,
 * `error_description` and the client's `state`.
 */
import type { EmulatorRequest, EmulatorState } from './context.js';
import { ANY_LOCAL_REDIRECT_URI } from './defaults.js';
import type { SpaceEmulatorClient, SpaceEmulatorUser } from './options.js';
import { errorPage, signInPage } from './pages.js';
import type { Params } from './params.js';
import { redirectReply, type Reply } from './reply.js';

/** A validated authorization request. */
export interface AuthorizationRequest {
  client: SpaceEmulatorClient;
  redirectURI: string;
  scope: string;
  state: string | undefined;
  accessType: 'online' | 'offline';
  codeChallenge: string | null;
  codeChallengeMethod: 'plain' | 'S256' | null;
}

/** Parameters the sign-in page passes on to `/oauth/auth/approve` in hidden fields. */
const AUTH_PARAMS = [
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state',
  'access_type', 'request_credentials', 'code_challenge', 'code_challenge_method',
] as const;

/** Values Hub defines for `request_credentials`; all are treated as "the test user is signed in" (docs/space-api.md#authorization-endpoint). */
const REQUEST_CREDENTIALS = ['default', 'required', 'skip', 'silent'];

/** RFC 7636 §4.2: 43 to 128 characters of the unreserved set. */
const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

/** The conformance suite's `CheckForInvalidCharsInState` set (SECURITY.md). */
const URL_SAFE = /^[A-Za-z0-9\-._~]*$/;

/** True if `uri` is registered for `client`; `'*'` matches any http(s) URI on localhost or 127.0.0.1. */
export function isRegisteredRedirectURI(client: SpaceEmulatorClient, uri: string): boolean {
  if (client.redirectURIs.includes(uri)) return true;
  if (!client.redirectURIs.includes(ANY_LOCAL_REDIRECT_URI) || !URL.canParse(uri) || uri.includes('#')) return false;
  const url = new URL(uri);
  return (
    (url.protocol === 'http:' || url.protocol === 'https:') &&
    ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) &&
    url.username === '' &&
    url.password === ''
  );
}

/** `redirectURI` plus query parameters, appended without re-encoding what was registered. */
function redirectTo(redirectURI: string, params: Record<string, string | undefined>): Reply {
  const query = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return redirectReply(`${redirectURI}${redirectURI.includes('?') ? '&' : '?'}${query}`);
}

type Validation = { ok: true; request: AuthorizationRequest } | { ok: false; reply: Reply };

/** Checks an authorization request (query of `/oauth/auth`, or the form of `/approve`). */
export function validateAuthorization(state: EmulatorState, params: Params, req: EmulatorRequest): Validation {
  const page = (status: number, error: string, description: string): Validation => ({ ok: false, reply: errorPage(status, error, description) });
  const dups = params.duplicates().filter((n) => (AUTH_PARAMS as readonly string[]).includes(n));

  const clientID = params.get('client_id');
  if (clientID === undefined || clientID === '') return page(400, 'invalid_request', 'The client_id parameter is missing.');
  if (dups.includes('client_id')) return page(400, 'invalid_request', 'The client_id parameter is repeated.');
  const client = state.clients.get(clientID);
  if (!client) return page(400, 'invalid_request', 'The client_id is not registered in this Space.');

  const redirectURI = params.get('redirect_uri');
  if (redirectURI === undefined || redirectURI === '' || dups.includes('redirect_uri')) {
    return page(400, 'unauthorized_client', 'The redirect_uri parameter is missing or repeated.');
  }
  if (!isRegisteredRedirectURI(client, redirectURI)) {
    return page(400, 'unauthorized_client', 'The redirect_uri is not registered for this application.');
  }

  const stateParam = params.get('state');
  const back = (error: string, description: string): Validation => ({
    ok: false,
    reply: redirectTo(redirectURI, { error, error_description: description, state: dups.includes('state') ? undefined : stateParam }),
  });
  if (dups.length > 0) return back('invalid_request', `Repeated parameter: ${dups.join(', ')}`);
  if (params.get('response_type') !== 'code') return back('unsupported_response_type', 'response_type must be "code".');
  const scope = params.get('scope')?.trim() ?? '';
  if (scope === '') return back('invalid_scope', 'The scope parameter is missing.');

  const requestCredentials = params.get('request_credentials');
  if (requestCredentials !== undefined && !REQUEST_CREDENTIALS.includes(requestCredentials)) {
    return back('invalid_request', `request_credentials must be one of ${REQUEST_CREDENTIALS.join(', ')}.`);
  }
  const accessType = params.get('access_type') ?? 'online';
  if (accessType !== 'online' && accessType !== 'offline') return back('invalid_request', 'access_type must be "online" or "offline".');

  const challenge = params.get('code_challenge');
  const method = params.get('code_challenge_method');
  if (method !== undefined && method !== 'plain' && method !== 'S256') {
    return back('invalid_request', 'code_challenge_method must be "plain" or "S256".');
  }
  if (method !== undefined && challenge === undefined) return back('invalid_request', 'code_challenge_method without code_challenge.');
  if (challenge !== undefined && !PKCE_VALUE.test(challenge)) {
    return back('invalid_request', 'code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~].');
  }
  if (challenge === undefined && (state.options.requirePKCE || client.clientSecret === undefined)) {
    return back('invalid_request', 'This application requires PKCE: code_challenge is missing.');
  }

  if (stateParam === undefined) req.warn('state is missing');
  else {
    if (stateParam.length > 128) req.warn('state is longer than 128 characters');
    if (!URL_SAFE.test(stateParam)) req.warn('state contains characters that are not URL-safe');
  }
  if (challenge === undefined) req.warn('no code_challenge: PKCE is not used');
  else if (method === undefined) req.warn('code_challenge_method is absent: Space treats the challenge as plain');
  else if (method === 'plain') req.warn('code_challenge_method is plain: RFC 7636 §7.2 asks for S256');

  return {
    ok: true,
    request: {
      client,
      redirectURI,
      scope,
      state: stateParam,
      accessType,
      codeChallenge: challenge ?? null,
      // docs/space-api.md#authorization-endpoint: an absent method means plain.
      codeChallengeMethod: challenge === undefined ? null : (method ?? 'plain'),
    },
  };
}

function approve(state: EmulatorState, request: AuthorizationRequest, user: SpaceEmulatorUser): Reply {
  const code = state.store.issueCode(
    {
      clientID: request.client.clientID,
      redirectURI: request.redirectURI,
      userID: user.id,
      scope: request.scope,
      accessType: request.accessType,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
    },
    state.options.codeTTL,
  );
  return redirectTo(request.redirectURI, { code, state: request.state });
}

/** `GET /oauth/auth`. */
export function handleAuthorize(state: EmulatorState, req: EmulatorRequest): Reply {
  if (req.query === null) return errorPage(400, 'invalid_request', 'The query string is malformed.');
  const result = validateAuthorization(state, req.query, req);
  if (!result.ok) return result.reply;
  if (state.autoApprove) return approve(state, result.request, state.autoApprove[state.approvals++ % state.autoApprove.length]!);

  const hidden: Record<string, string> = {};
  for (const name of AUTH_PARAMS) {
    const value = req.query.get(name);
    if (value !== undefined) hidden[name] = value;
  }
  return signInPage({
    organization: state.options.organization.name,
    clientID: result.request.client.clientID,
    scope: result.request.scope,
    users: state.users,
    hidden,
    redirectOrigin: new URL(result.request.redirectURI).origin,
  });
}

/** `POST /oauth/auth/approve`: the sign-in page's form. Re-validates everything it carries. */
export function handleApprove(state: EmulatorState, req: EmulatorRequest): Reply {
  if (req.form === null) return errorPage(400, 'invalid_request', 'Expected a form body (application/x-www-form-urlencoded).');
  const result = validateAuthorization(state, req.form, req);
  if (!result.ok) return result.reply;
  const { request } = result;
  if (req.form.has('deny')) {
    return redirectTo(request.redirectURI, {
      error: 'access_denied',
      error_description: 'The user denied access to the application.',
      state: request.state,
    });
  }
  const userID = req.form.get('user');
  const user = state.users.find((u) => u.id === userID);
  if (!user || req.form.duplicates().includes('user')) return errorPage(400, 'invalid_request', 'Choose exactly one known user.');
  return approve(state, request, user);
}
