import { randomBytes } from 'node:crypto';

/**
 * Pending sign-ins, kept in the session and keyed by their `state`, so that several
 * sign-ins started in parallel tabs each complete (passport-oauth2's stores keep a single
 * slot that the second tab overwrites; SECURITY-CATALOG test 9). Bounded in number and age.
 */
export interface PendingSignIn {
  /** PKCE code verifier (RFC 7636 §4.1): 32 random bytes, base64url. */
  verifier: string;
  /** The exact redirect_uri sent to /oauth/auth; the token request must repeat it. */
  redirectURI: string;
  /** Where to land after sign-in, already checked to be a local path. */
  returnTo?: string;
  /** Scope that was asked for. */
  scope: string;
  createdAt: number;
}

/** The part of the session this library owns (`req.session[sessionKey]`). */
export interface SpaceSessionData {
  pending?: Record<string, PendingSignIn>;
  tokens?: unknown;
}

const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** 256 bits from the CSPRNG, URL-safe (RFC 6749 §10.10 asks for at least 128). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

export function sessionData(session: Record<string, unknown>, key: string): SpaceSessionData {
  const existing = session[key];
  if (typeof existing === 'object' && existing !== null && !Array.isArray(existing)) return existing as SpaceSessionData;
  const created: SpaceSessionData = {};
  session[key] = created;
  return created;
}

/** Stores a pending sign-in and returns its state. Drops expired ones and the oldest past `max`. */
export function addPendingSignIn(
  session: Record<string, unknown>, key: string, signIn: PendingSignIn, max: number, maxAge: number,
): string {
  const data = sessionData(session, key);
  const pending: Record<string, PendingSignIn> = {};
  const kept = Object.entries(isPlainRecord(data.pending) ? data.pending : {})
    .filter(([state, p]) => STATE_PATTERN.test(state) && typeof p?.createdAt === 'number' && signIn.createdAt - p.createdAt < maxAge)
    .sort((a, b) => a[1].createdAt - b[1].createdAt)
    .slice(-(max - 1));
  for (const [state, p] of kept) pending[state] = p;
  const state = randomToken();
  pending[state] = signIn;
  data.pending = pending;
  return state;
}

export type TakeResult =
  | { ok: true; signIn: PendingSignIn }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'expired' };

/**
 * Removes and returns the pending sign-in for `state`. It is removed before any token
 * request, so a replayed or failed callback can never be used again (RFC 9700 §4.2.4).
 */
export function takePendingSignIn(
  session: Record<string, unknown>, key: string, state: unknown, now: number, maxAge: number,
): TakeResult {
  if (state === undefined || state === '') return { ok: false, reason: 'missing' };
  if (typeof state !== 'string' || !STATE_PATTERN.test(state)) return { ok: false, reason: 'malformed' };
  const data = session[key] as SpaceSessionData | undefined;
  const pending = data && isPlainRecord(data.pending) ? data.pending : undefined;
  if (!pending || !Object.prototype.hasOwnProperty.call(pending, state)) return { ok: false, reason: 'unknown' };
  const signIn = pending[state]!;
  delete pending[state];
  if (Object.keys(pending).length === 0) delete data!.pending;
  if (typeof signIn.createdAt !== 'number' || now - signIn.createdAt > maxAge) return { ok: false, reason: 'expired' };
  return { ok: true, signIn };
}

function isPlainRecord(value: unknown): value is Record<string, PendingSignIn> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
