/**
 * `POST /_emulator/tokens`: mints a permanent token, for testing an API that accepts Space tokens
 * (`SpaceBearerStrategy`) against an emulator that the test cannot reach in-process, such as one
 * started with the `space-emulator` CLI. Not a Space endpoint (the `_emulator` prefix says so).
 *
 * It answers only callers on a loopback address, whatever `host` the emulator listens on: a token
 * is worth as much as a sign-in, and the CLI already warns that a non-loopback host lets others
 * sign in. Parameters, in a form body or the query: `user=<username or id>` for a personal token,
 * or `app=<client id>` (empty: the first registered application) for an application token;
 * optional `expiresIn` (seconds; without it the token has no `exp`, as Space's permanent tokens)
 * and `scope` (default `**`). The answer is JSON, or the bare token for `Accept: text/plain`.
 */
import type { EmulatorRequest, EmulatorState } from './context.js';
import { doorsAPI, type SpaceEmulatorPermanentTokenOptions } from './doors.js';
import { isLoopbackHost } from './loopback.js';
import { findUser } from './options.js';
import { Params } from './params.js';
import { apiError, bodyReply, jsonReply, type Reply } from './reply.js';

/** The path of the minting endpoint. */
export const TEST_TOKENS_PATH = '/_emulator/tokens';

/** What the endpoint answers (as JSON). */
export interface SpaceEmulatorMintedToken {
  token: string;
  principal: 'user' | 'application';
  /** The member's username, for a personal token. */
  username?: string;
  /** The application's client id, for an application token. */
  clientId?: string;
  /** Seconds until `exp`, or null for a token without one. */
  expiresIn: number | null;
}

const NO_STORE = { 'Cache-Control': 'no-store' };

/** `POST /_emulator/tokens`. Error descriptions never echo the request. */
export function handleMintToken(state: EmulatorState, req: EmulatorRequest): Reply {
  if (!isLoopbackHost(req.remoteAddress ?? '')) {
    return apiError(403, 'permission-denied', 'The emulator mints tokens only for callers on its own machine (a loopback address).');
  }
  const params = req.form ?? req.query ?? Params.from({});
  if (params.duplicates().length > 0) return apiError(400, 'invalid-request', 'A parameter was given more than once.');
  const user = params.get('user');
  const app = params.get('app');
  if ((user === undefined) === (app === undefined)) {
    return apiError(400, 'invalid-request', 'Give either user=<username or id> or app=<client id>.');
  }
  const options: SpaceEmulatorPermanentTokenOptions = {};
  const expiresIn = params.get('expiresIn');
  if (expiresIn !== undefined) {
    if (!/^[1-9]\d{0,9}$/.test(expiresIn)) return apiError(400, 'invalid-request', 'expiresIn must be a positive whole number of seconds.');
    options.expiresIn = Number(expiresIn);
  }
  const scope = params.get('scope');
  if (scope !== undefined) {
    if (scope.trim() === '') return apiError(400, 'invalid-request', 'scope must not be empty.');
    options.scope = scope;
  }

  const doors = doorsAPI(state);
  let minted: SpaceEmulatorMintedToken;
  if (user !== undefined) {
    const member = findUser(state.users, user);
    if (!member) return apiError(404, 'not-found', 'No member with that username or id.');
    minted = { token: doors.mintPersonalToken(member.id, options), principal: 'user', username: member.username, expiresIn: options.expiresIn ?? null };
  } else {
    const clientId = app || (state.clients.keys().next().value ?? '');
    if (!state.clients.has(clientId)) return apiError(404, 'not-found', 'No application with that client id.');
    minted = { token: doors.mintApplicationToken(clientId, options), principal: 'application', clientId, expiresIn: options.expiresIn ?? null };
  }
  const accept = String(req.headers.accept ?? '');
  if (/\btext\/plain\b/i.test(accept) && !/\bapplication\/json\b/i.test(accept)) {
    return bodyReply(200, 'text/plain; charset=utf-8', `${minted.token}\n`, NO_STORE);
  }
  return jsonReply(200, minted, NO_STORE);
}
