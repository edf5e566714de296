/**
 * Helpers for the emulator's own tests: PKCE pairs, the authorization redirect, token requests
 * and API calls over real HTTP with global fetch (redirects never followed).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SpaceEmulator, SpaceEmulatorOptions } from 'passport-jetbrains-space/emulator';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startSpaceEmulator } from 'passport-jetbrains-space/emulator';

export const CLIENT_ID = DEFAULT_CLIENT_ID;
export const CLIENT_SECRET = DEFAULT_CLIENT_SECRET;
export const CALLBACK = 'http://localhost:3000/auth/space/callback';
export const PROFILE = '/api/http/team-directory/profiles/me';
export const REVOKE_SELF = '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self';

/**
 * A `start(options)` for tests that each want their own emulator (auto-approving john.doe
 * unless told otherwise); every one started is closed after its test. `onStart` receives it.
 */
export function startsEmulatorPerTest(onStart: (space: SpaceEmulator) => void): (options?: SpaceEmulatorOptions) => Promise<SpaceEmulator> {
  let running: SpaceEmulator | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });
  return async (options = {}) => {
    running = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe', ...options });
    onStart(running);
    return running;
  };
}

/** A PKCE pair as RFC 7636 §4.1–4.2 describe it: 32 random bytes, S256 challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** `Authorization: Basic` value per RFC 6749 §2.3.1 (form-url-encode, then base64). */
export function basic(id: string = CLIENT_ID, secret: string = CLIENT_SECRET): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** `/oauth/auth` URL with sensible defaults; pass `undefined` to drop a parameter. */
export function authorizeURL(space: SpaceEmulator, params: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: CALLBACK,
    scope: 'global:Profile.View',
    state: 'state-123',
    ...params,
  };
  const query = new URLSearchParams(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
  return `${space.url}/oauth/auth?${query}`;
}

/** GET without following redirects. */
export function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { redirect: 'manual', headers });
}

/** Follows the auto-approved authorization redirect; returns the callback URL Space sent back. */
export async function authorize(space: SpaceEmulator, params: Record<string, string | undefined> = {}): Promise<URL> {
  const res = await get(authorizeURL(space, params));
  const location = res.headers.get('location');
  if (res.status !== 302 || !location) throw new Error(`expected a redirect from /oauth/auth, got ${res.status}`);
  return new URL(location);
}

/** Authorizes with S256 PKCE and returns the code and verifier. */
export async function authorizeWithPKCE(space: SpaceEmulator, params: Record<string, string | undefined> = {}) {
  const { verifier, challenge } = pkce();
  const back = await authorize(space, { code_challenge: challenge, code_challenge_method: 'S256', ...params });
  const code = back.searchParams.get('code');
  if (!code) throw new Error(`no code in ${back.href}`);
  return { code, verifier, back };
}

export interface TokenResult {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/** POSTs a token request; `auth: null` sends no Authorization header. */
export async function tokenRequest(
  space: SpaceEmulator,
  body: Record<string, string>,
  opts: { auth?: string | null; contentType?: string; rawBody?: string } = {},
): Promise<TokenResult> {
  const headers: Record<string, string> = { 'Content-Type': opts.contentType ?? 'application/x-www-form-urlencoded', Accept: 'application/json' };
  const auth = opts.auth === undefined ? basic() : opts.auth;
  if (auth !== null) headers.Authorization = auth;
  const res = await fetch(`${space.url}/oauth/token`, { method: 'POST', headers, body: opts.rawBody ?? new URLSearchParams(body).toString() });
  return { status: res.status, headers: res.headers, json: (await res.json()) as Record<string, unknown> };
}

/** Exchanges a code (redirect_uri = CALLBACK). */
export function exchange(space: SpaceEmulator, code: string, verifier?: string, extra: Record<string, string> = {}, auth?: string | null) {
  const body: Record<string, string> = { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, ...extra };
  if (verifier !== undefined) body.code_verifier = verifier;
  return tokenRequest(space, body, { auth });
}

/** Refreshes with the default client. */
export function refresh(space: SpaceEmulator, refreshToken: string, extra: Record<string, string> = {}) {
  return tokenRequest(space, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

/** Full auto-approved sign-in; returns the token answer. */
export async function signIn(space: SpaceEmulator, params: Record<string, string | undefined> = {}) {
  const { code, verifier } = await authorizeWithPKCE(space, params);
  const answer = await exchange(space, code, verifier);
  if (answer.status !== 200) throw new Error(`token exchange failed: ${answer.status} ${JSON.stringify(answer.json)}`);
  return answer.json as { access_token: string; refresh_token?: string; expires_in: number; token_type?: string; scope?: string };
}

/** Calls the API with an optional bearer token. */
export function api(space: SpaceEmulator, path: string, token?: string, init: RequestInit = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  return fetch(`${space.url}${path}`, { redirect: 'manual', ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
}
