import { SpaceApiError, SpaceTokenError, trimOldest } from '../core';
import { answerError, callSpace, describeURL, isRecord, parseJSON, type SpaceCall } from './call';
import { toSpaceProfile, type SpaceProfile } from './profile';
import { parseTokenResponse, type SpaceTokenSet } from './token-answer';
import { SpaceAgents } from './transport';
import { type Operation, traced } from '../telemetry';

export interface SpaceClientSettings {
  spaceURL: string;
  clientID: string;
  clientSecret: string;
  timeout: number;
}

/** A token endpoint answer: the parsed token set, and the raw fields for verify callbacks. */
export interface TokenAnswer {
  tokens: SpaceTokenSet;
  issuedAt: number;
  params: Record<string, unknown>;
}

/** Options of one HTTP API call. */
export interface SpaceApiCallOptions {
  /** Query parameters, e.g. `{ $fields: 'id,name' }`. */
  query?: Record<string, string | number | boolean | undefined>;
  /** A JSON body. */
  body?: unknown;
  signal?: AbortSignal;
}

/**
 * Space's OAuth and HTTP API over keep-alive node:http(s) agents: every call has a timeout, client authentication
 * is HTTP Basic only (the method Space documents; SPACE-API.md §3.1), bearer tokens go in
 * the Authorization header only (RFC 6750 §2.1), and failures are typed errors.
 */
/**
 * An `application/x-www-form-urlencoded` body (RFC 6749 §4.1.3, Appendix B): each name and value
 * percent-encoded (a space as %20, which form decoders read as they read "+").
 */
function formBody(form: Record<string, string>): string {
  let body = '';
  for (const name in form) body += `${body ? '&' : ''}${encodeURIComponent(name)}=${encodeURIComponent(form[name]!)}`;
  return body;
}

/** What a path segment may hold as it is (RFC 3986 `pchar`); anything else is percent-encoded. */
const PCHAR = /^[A-Za-z0-9\-._~!$&'()*+,;=:@]$/;

function badPath(path: string, why: string): never {
  throw new TypeError(`Space API path ${JSON.stringify(path.length > 100 ? `${path.slice(0, 100)}…` : path)} ${why}`);
}

/**
 * An API path (relative to `/api/http/`) made safe to put in a URL, or a TypeError. Each
 * segment is percent-encoded where it needs it (characters outside RFC 3986's `pchar`, a lone
 * `%`), while escapes already there (`%20`, from `encodeURIComponent`) are kept. Refused: a
 * `?` or `#` (query parameters go in `options.query`), and any segment that is, or decodes to,
 * `.` or `..`, or holds a `\` or an encoded `/` (a URL parser or Space would climb out of
 * `/api/http/` with it, e.g. `profiles/../../oauth/x`).
 */
export function apiPath(path: unknown): string {
  if (typeof path !== 'string') throw new TypeError(`Space API path must be a string like "team-directory/profiles/me", got ${typeof path}`);
  const relative = path.replace(/^\/+/, '');
  if (relative === '') badPath(path, 'is empty: give the path after /api/http/, e.g. "team-directory/profiles/me"');
  if (/[?#]/.test(relative)) badPath(path, 'holds "?" or "#": give query parameters in the call\'s "query" option');
  return relative.split('/').map((segment) => {
    let out = '';
    for (let i = 0; i < segment.length;) {
      if (segment[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(segment.slice(i + 1, i + 3))) {
        out += segment.slice(i, i + 3);
        i += 3;
        continue;
      }
      const char = String.fromCodePoint(segment.codePointAt(i)!);
      try {
        out += PCHAR.test(char) ? char : encodeURIComponent(char);
      } catch {
        badPath(path, 'holds an unpaired surrogate');
      }
      i += char.length;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(out);
    } catch {
      decoded = out; // Escapes that are not UTF-8: kept as they are, and checked as they are.
    }
    if (decoded === '.' || decoded === '..') badPath(path, 'has a "." or ".." segment: it would leave /api/http/');
    if (/[/\\]/.test(decoded)) badPath(path, 'has a "\\" or an encoded "/" inside a segment');
    return out;
  }).join('/');
}

export class SpaceClient {
  readonly tokenURL: URL;
  /** This client's pooled connections to Space. */
  readonly agents = new SpaceAgents();
  private readonly authorization: string;
  private readonly apiURLs = new Map<string, URL>();
  private readonly profileURLs = new Map<string, URL>();

  constructor(private readonly settings: SpaceClientSettings) {
    this.tokenURL = new URL(`${settings.spaceURL}/oauth/token`);
    this.authorization = this.basicAuth();
  }

  /** RFC 6749 §2.3.1: client id and secret are form-encoded before being joined. */
  private basicAuth(): string {
    const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
    const pair = `${encode(this.settings.clientID)}:${encode(this.settings.clientSecret)}`;
    return `Basic ${Buffer.from(pair).toString('base64')}`;
  }

  /** POSTs a grant to the token endpoint and validates the answer (span `space.token`). */
  token(form: Record<string, string>, requestedScope: string | undefined, signal?: AbortSignal): Promise<TokenAnswer> {
    return traced('space.token', (op) => {
      op.set('space.grant_type', form.grant_type);
      return this.tokenCall(form, requestedScope, signal, op);
    }, undefined, true);
  }

  private async tokenCall(form: Record<string, string>, requestedScope: string | undefined, signal: AbortSignal | undefined, op: Operation): Promise<TokenAnswer> {
    const call: SpaceCall = {
      method: 'POST',
      url: this.tokenURL,
      headers: {
        authorization: this.authorization,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: formBody(form),
      timeout: this.settings.timeout,
      what: 'Space token endpoint',
      errorClass: SpaceTokenError,
      secrets: [this.settings.clientSecret, form.code, form.code_verifier, form.refresh_token],
      signal,
      agents: this.agents,
    };
    const answer = await callSpace(call);
    op.set('http.response.status_code', answer.status);
    const body = parseJSON(answer.text);
    // A 200 carrying an `error` is an error (some servers do this); so is any non-2xx.
    if (answer.status < 200 || answer.status >= 300 || (isRecord(body) && typeof body.error === 'string')) {
      throw answerError(call, answer);
    }
    const now = Date.now();
    const parsed = parseTokenResponse(body, now, requestedScope);
    if (!parsed.ok) {
      const kind = body === undefined ? 'a body that is not JSON' : `an invalid token response: ${parsed.problem}`;
      throw new SpaceTokenError(`Space token endpoint answered ${answer.status} with ${kind} (POST ${describeURL(this.tokenURL)})`, {
        code: 'SPACE_INVALID_RESPONSE',
        status: answer.status,
      });
    }
    return { tokens: parsed.tokens, issuedAt: parsed.issuedAt, params: isRecord(body) ? body : {} };
  }

  /** Exchanges an authorization code (RFC 6749 §4.1.3) with its PKCE verifier (RFC 7636 §4.5). */
  exchangeCode(args: { code: string; verifier: string; redirectURI: string; scope: string; extra?: Record<string, string> }): Promise<TokenAnswer> {
    return this.token({
      ...args.extra,
      grant_type: 'authorization_code',
      code: args.code,
      redirect_uri: args.redirectURI,
      code_verifier: args.verifier,
    }, args.scope);
  }

  /** Renews an access token (RFC 6749 §6). Space documents `scope` as required here. */
  refresh(refreshToken: string, scope: string | undefined, signal?: AbortSignal): Promise<TokenAnswer> {
    const form: Record<string, string> = { grant_type: 'refresh_token', refresh_token: refreshToken };
    if (scope) form.scope = scope;
    return this.token(form, scope, signal);
  }

  /**
   * The URL of an API call, made once per path and query: the profile call asks for the same
   * one at every sign-in, and parsing a URL is a good part of a call's own cost. Never changed
   * once made (the transport only reads it).
   */
  private apiURL(path: string, query: SpaceApiCallOptions['query']): URL {
    // Every part escaped, so no two different calls share a key.
    let key = `${encodeURIComponent(path)}?`;
    for (const name in query ?? {}) {
      const value = query![name];
      if (value !== undefined) key += `&${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`;
    }
    let url = this.apiURLs.get(key);
    if (url) return url;
    const base = new URL(`${this.settings.spaceURL}/api/http/`);
    // Appended, not resolved against the base: a first segment like "name:x" would read as a scheme.
    url = new URL(`${base.href}${apiPath(path)}`);
    // Belt and braces: whatever the path, the call stays under this Space's /api/http/.
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) badPath(path, 'leaves /api/http/');
    for (const [name, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    this.apiURLs.set(key, url);
    trimOldest(this.apiURLs, 64);
    return url;
  }

  /** Calls Space's HTTP API (`/api/http/<path>`) as the holder of `accessToken` (span `space.api`). */
  api(accessToken: string, method: string, path: string | URL, options: SpaceApiCallOptions = {}): Promise<{ status: number; json: unknown; text: string }> {
    return traced('space.api', (op) => {
      const url = typeof path === 'string' ? this.apiURL(path, options.query) : path;
      op.set('http.request.method', method);
      // The path only: a query may hold anything the caller put there.
      op.set('url.path', url.pathname);
      return this.apiCall(accessToken, method, url, options, op);
    }, undefined, true);
  }

  private async apiCall(accessToken: string, method: string, url: URL, options: SpaceApiCallOptions, op: Operation): Promise<{ status: number; json: unknown; text: string }> {
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json' };
    const call: SpaceCall = {
      method,
      url,
      headers,
      timeout: this.settings.timeout,
      what: 'Space HTTP API',
      errorClass: SpaceApiError,
      secrets: [accessToken],
      signal: options.signal,
      agents: this.agents,
    };
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      call.body = JSON.stringify(options.body);
    }
    const answer = await callSpace(call);
    op.set('http.response.status_code', answer.status);
    if (answer.status < 200 || answer.status >= 300) throw answerError(call, answer);
    if (answer.text === '') return { status: answer.status, json: undefined, text: '' };
    const json = parseJSON(answer.text);
    if (json === undefined) {
      throw new SpaceApiError(`Space HTTP API answered ${answer.status} with a body that is not JSON (${method} ${describeURL(url)})`, {
        code: 'SPACE_INVALID_RESPONSE',
        status: answer.status,
      });
    }
    return { status: answer.status, json, text: answer.text };
  }

  /** The signed-in user's profile, normalized. */
  async profile(accessToken: string, fields: string): Promise<SpaceProfile> {
    let url = this.profileURLs.get(fields);
    if (!url) {
      url = this.apiURL('team-directory/profiles/me', { $fields: fields });
      this.profileURLs.set(fields, url);
      trimOldest(this.profileURLs, 16);
    }
    const { status, json, text } = await this.api(accessToken, 'GET', url);
    const profile = toSpaceProfile(json, text, this.settings.spaceURL);
    if (typeof profile === 'string') {
      throw new SpaceApiError(`Space profile API answered ${status} with an invalid profile: ${profile} (GET ${this.settings.spaceURL}/api/http/team-directory/profiles/me)`, {
        code: 'SPACE_INVALID_RESPONSE',
        status,
      });
    }
    return profile;
  }

  /**
   * Revokes the refresh token behind `accessToken`, so the grant dies at Space too.
   * `DELETE .../oauth-consents/me/refresh-tokens/self` (SPACE-API.md §1). Span `revoke`.
   */
  revokeRefreshToken(accessToken: string, signal?: AbortSignal): Promise<void> {
    return traced('revoke', async () => {
      await this.api(accessToken, 'DELETE', 'team-directory/profiles/oauth-consents/me/refresh-tokens/self', signal ? { signal } : {});
    });
  }
}
