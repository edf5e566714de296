/**
 * The application endpoints of the emulated HTTP API: `applications/me` and
 * `applications/{me | clientId:<id> | id:<id>}/public-keys`.
 *
 * Behaviour towards the other principal type is not documented by Space [inferred]: a member's
 * token gets 404 `not-found` from `applications/me` (it names no application), as an application's
 * token gets 404 from `team-directory/profiles/me`.
 */
import { createHash } from 'node:crypto';
import { appJwks } from './app-keys.js';
import { checkBearer } from './bearer.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { apiError, jsonReply, type Reply } from './reply.js';

type Handler = (state: EmulatorState, req: EmulatorRequest) => Reply;

const PREFIX = '/api/http/applications/';

/** The application's stable Space id (not its client id). */
export function applicationID(clientID: string): string {
  return createHash('sha256').update(`app\n${clientID}`).digest('base64url').slice(0, 12);
}

/** `GET /api/http/applications/me`: the calling application. */
function handleApplicationMe(state: EmulatorState, req: EmulatorRequest): Reply {
  const auth = checkBearer(state, req);
  if (!auth.ok) return auth.reply;
  if (auth.grant.principal !== 'SERVICE') return apiError(404, 'not-found', 'The access token does not belong to an application.');
  const client = state.clients.get(auth.grant.clientID);
  return jsonReply(200, { id: applicationID(auth.grant.clientID), clientId: auth.grant.clientID, name: client?.name ?? auth.grant.clientID });
}

/** Resolves `me`, `clientId:<id>` or `id:<id>` to a client id. */
function resolveApplication(state: EmulatorState, identifier: string, caller: string | null): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(identifier);
  } catch {
    return undefined;
  }
  if (decoded === 'me') return caller ?? undefined;
  if (decoded.startsWith('clientId:')) {
    const id = decoded.slice('clientId:'.length);
    return state.clients.has(id) ? id : undefined;
  }
  if (decoded.startsWith('id:')) {
    const id = decoded.slice('id:'.length);
    return [...state.clients.keys()].find((c) => applicationID(c) === id);
  }
  return undefined;
}

/**
 * `GET .../public-keys`: the keys Space signs requests to the app with, as a JSON *string* whose
 * content is the JWKS (Space's SDK types the answer as a string, so clients parse it twice).
 */
function publicKeysHandler(identifier: string): Handler {
  return (state, req) => {
    const auth = checkBearer(state, req);
    if (!auth.ok) return auth.reply;
    const caller = auth.grant.principal === 'SERVICE' ? auth.grant.clientID : null;
    const clientID = resolveApplication(state, identifier, caller);
    if (clientID === undefined) return apiError(404, 'not-found', 'No such application.');
    return jsonReply(200, JSON.stringify(appJwks(state, clientID)));
  };
}

/** The handlers for a path under `/api/http/applications/`, if it is one of ours. */
export function applicationRoutes(path: string): Readonly<Record<string, Handler>> | undefined {
  if (!path.startsWith(PREFIX)) return undefined;
  const rest = path.slice(PREFIX.length);
  if (rest === 'me') return { GET: handleApplicationMe };
  const parts = rest.split('/');
  if (parts.length === 2 && parts[1] === 'public-keys' && parts[0] !== '') return { GET: publicKeysHandler(parts[0]!) };
  return undefined;
}
