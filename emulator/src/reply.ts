/**
 * A buffered HTTP answer, and builders for the shapes Space uses.
 *
 * Handlers return a {@link Reply} instead of writing to the socket, so the server can apply
 * faults to any answer afterwards (drip it byte by byte, or replace it) and record its status.
 */

/** A complete HTTP answer. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** Sent on every answer: the emulator never wants its JSON or SVG sniffed as something else. */
const BASE_HEADERS = { 'X-Content-Type-Options': 'nosniff' } as const;

/** A JSON answer. */
export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { ...BASE_HEADERS, 'Content-Type': 'application/json; charset=utf-8', ...headers },
    body: Buffer.from(JSON.stringify(value), 'utf8'),
  };
}

/** An answer with a body of the given content type. */
export function bodyReply(status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): Reply {
  return { status, headers: { ...BASE_HEADERS, 'Content-Type': contentType, ...headers }, body: Buffer.from(body) };
}

/** An answer without a body. */
export function emptyReply(status: number, headers: Record<string, string> = {}): Reply {
  return { status, headers: { ...BASE_HEADERS, ...headers }, body: Buffer.alloc(0) };
}

/**
 * A 302 to `location`. `no-store` and `no-referrer` because the location carries a code or an
 * error for the client (RFC 9700 §4.2.4, §4.3).
 */
export function redirectReply(location: string): Reply {
  return emptyReply(302, { Location: location, 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
}

/**
 * An HTTP API error in Space's shape, `{ error, error_description }` with hyphenated codes such
 * as `authentication-required` (docs/space-api.md#api-errors).
 */
export function apiError(status: number, error: string, description: string): Reply {
  return jsonReply(status, { error, error_description: description });
}

/**
 * A token-endpoint error (RFC 6749 §5.2): JSON `{ error, error_description }`, `no-store`. For
 * `invalid_client` the status is 401 with a `WWW-Authenticate: Basic` challenge, since Basic is
 * the client authentication Space documents (docs/space-api.md#client-authentication, #token-errors).
 */
export function oauthError(error: string, description: string): Reply {
  const headers: Record<string, string> = { 'Cache-Control': 'no-store', Pragma: 'no-cache' };
  if (error === 'invalid_client') headers['WWW-Authenticate'] = 'Basic realm="Space"';
  return jsonReply(error === 'invalid_client' ? 401 : 400, { error, error_description: description }, headers);
}
