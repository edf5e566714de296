/**
 * The emulator's route table: which handler answers which method and path.
 *
 * Paths match exactly, as sent (no decoding, no trailing-slash folding), so a client that builds
 * a wrong URL gets a 404 here as it would from Space. `HEAD` is answered like `GET`.
 */
import { handleAttachment, handleOrganization, handleProfile, handleRevokeSelf, REVOKE_SELF_PATH } from './api.js';
import { applicationRoutes } from './apps.js';
import { handleApprove, handleAuthorize } from './authorize.js';
import type { EmulatorRequest, EmulatorState } from './context.js';
import { apiError, jsonReply, type Reply } from './reply.js';
import { handleMemberships, MEMBERSHIPS_PATH } from './memberships.js';
import { handleMintToken, TEST_TOKENS_PATH } from './test-tokens.js';
import { handleToken } from './token.js';

type Handler = (state: EmulatorState, req: EmulatorRequest) => Reply;

/** `GET /oauth/jwks.json`: the public keys of the access-token signer, old ones after a rotation too. */
function handleJwks(state: EmulatorState): Reply {
  return jsonReply(200, state.signer.jwks(), { 'Cache-Control': 'public, max-age=300' });
}

const ROUTES: ReadonlyMap<string, Readonly<Record<string, Handler>>> = new Map<string, Record<string, Handler>>([
  ['/oauth/auth', { GET: handleAuthorize }],
  ['/oauth/auth/approve', { POST: handleApprove }],
  ['/oauth/token', { POST: handleToken }],
  ['/oauth/jwks.json', { GET: handleJwks }],
  ['/api/http/team-directory/profiles/me', { GET: handleProfile }],
  ['/api/http/organization', { GET: handleOrganization }],
  [REVOKE_SELF_PATH, { DELETE: handleRevokeSelf }],
  [MEMBERSHIPS_PATH, { GET: handleMemberships }],
  // The emulator's own: not a Space endpoint.
  [TEST_TOKENS_PATH, { POST: handleMintToken }],
]);

/** Attachments live under `/d/<id>` (docs/space-api.md#avatars). */
const ATTACHMENT_PREFIX = '/d/';

function methodsFor(path: string): Readonly<Record<string, Handler>> | undefined {
  if (path.startsWith(ATTACHMENT_PREFIX) && !path.slice(ATTACHMENT_PREFIX.length).includes('/')) {
    return { GET: handleAttachment };
  }
  return ROUTES.get(path) ?? applicationRoutes(path);
}

/** Answers a request: the matching handler, or 404 / 405 in Space's API error shape. */
export function route(state: EmulatorState, req: EmulatorRequest): Reply {
  const methods = methodsFor(req.path);
  if (!methods) return apiError(404, 'not-found', 'The Space emulator has no such endpoint.');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const handler = Object.hasOwn(methods, method) ? methods[method] : undefined;
  if (!handler) {
    const reply = apiError(405, 'request-error', `Method ${req.method} is not allowed here.`);
    reply.headers.Allow = Object.keys(methods).join(', ');
    return reply;
  }
  return handler(state, req);
}
