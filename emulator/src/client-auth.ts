/**
 * Client authentication at the token endpoint.
 *
 * Space documents HTTP Basic (docs/space-api.md#client-authentication[confirmed]); public clients send `client_id` in
 * the body and use PKCE ([inferred] from the Kotlin SDK). Body-only secrets (`client_secret_post`)
 * are [unconfirmed], so they are off unless `acceptClientSecretPost` is set. Using two methods at
 * once is `invalid_request` (RFC 6749 §2.3). Error descriptions never contain the
 * presented id or secret.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { EmulatorRequest, EmulatorState } from './context.js';
import type { SpaceEmulatorClient } from './options.js';
import { formDecode, ParamsError, type Params } from './params.js';
import { oauthError, type Reply } from './reply.js';

/** How the client authenticated. */
export type ClientAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';

/** The authenticated client, or the error answer to send. */
export type ClientAuthResult = { ok: true; client: SpaceEmulatorClient; method: ClientAuthMethod } | { ok: false; reply: Reply };

/** Compares secrets in constant time; hashing first makes the lengths equal (timingSafeEqual needs that). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Decodes `Authorization: Basic ...` per RFC 6749 §2.3.1: base64, split at the first colon, then
 * form-url-decode both parts. Returns null if the header is not a well-formed Basic header.
 */
export function parseBasicAuthorization(header: string): { id: string; secret: string } | null {
  const match = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  try {
    return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
  } catch (err) {
    if (err instanceof ParamsError) return null;
    throw err;
  }
}

const failed = (description: string): ClientAuthResult => ({ ok: false, reply: oauthError('invalid_client', description) });
const badRequest = (description: string): ClientAuthResult => ({ ok: false, reply: oauthError('invalid_request', description) });

/** Authenticates the client of a token request. */
export function authenticateClient(state: EmulatorState, req: EmulatorRequest, form: Params): ClientAuthResult {
  const header = req.headers.authorization;
  const bodyID = form.get('client_id');
  const bodySecret = form.get('client_secret');

  if (header !== undefined) {
    const basic = parseBasicAuthorization(header);
    if (!basic) return failed('The Authorization header is not valid HTTP Basic client authentication.');
    if (bodySecret !== undefined) {
      return badRequest('The client used more than one client authentication method (Basic and client_secret in the body).');
    }
    if (bodyID !== undefined && bodyID !== basic.id) return badRequest('client_id in the body differs from the Authorization header.');
    const client = state.clients.get(basic.id);
    if (!client) return failed('Client authentication failed.');
    if (client.clientSecret === undefined) {
      return basic.secret === '' ? { ok: true, client, method: 'none' } : failed('Client authentication failed.');
    }
    if (!secretsEqual(basic.secret, client.clientSecret)) return failed('Client authentication failed.');
    return { ok: true, client, method: 'client_secret_basic' };
  }

  if (bodySecret !== undefined) {
    if (!state.options.acceptClientSecretPost) {
      return failed('Client credentials in the request body are not accepted; use HTTP Basic authentication.');
    }
    const client = bodyID === undefined ? undefined : state.clients.get(bodyID);
    if (!client || client.clientSecret === undefined || !secretsEqual(bodySecret, client.clientSecret)) {
      return failed('Client authentication failed.');
    }
    return { ok: true, client, method: 'client_secret_post' };
  }

  if (bodyID !== undefined) {
    const client = state.clients.get(bodyID);
    if (!client) return failed('Client authentication failed.');
    if (client.clientSecret !== undefined) return failed('This client must authenticate (HTTP Basic).');
    return { ok: true, client, method: 'none' };
  }
  return failed('Client authentication is required.');
}
