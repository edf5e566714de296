import { randomBytes } from 'node:crypto';
import type { Request, Response } from 'express';
import { ADD_PENDING, fingerprint, type Keys, type KV, openStored, seal, TAKE_PENDING } from '../store';
import { isRecord } from '../core';

/**
 * Pending sign-ins: what the callback needs to finish a sign-in this browser started (the PKCE
 * verifier, the exact redirect_uri, where to land). They are written to Redis, keyed by the
 * browser and the state, *before* the browser is sent to Space — not left to express-session's
 * save at the end of the request, where parallel tabs would overwrite each other (last writer
 * wins). Bounded in number per browser and in age.
 *
 * The browser is named by a cookie of its own (`signInCookie`, a random 256-bit value, HttpOnly,
 * SameSite=Lax, living `stateMaxAge`), not by the session: starting a sign-in stores no session,
 * and the callback of a browser that had none is answered without reading or deleting one.
 * Redis holds a hash of the value, never the value; the set outlives Passport's new session id
 * at login, so other tabs still on their way back from Space complete too.
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

const STATE_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** 256 bits from the CSPRNG, URL-safe (RFC 6749 §10.10 asks for at least 128). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The value of this request's sign-in cookie, when it has a well-formed one. */
export function browserOf(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  // The name must start the header or follow "; " (not be the tail of another cookie's name).
  for (let i = header.indexOf(`${name}=`); i >= 0; i = header.indexOf(`${name}=`, i + 1)) {
    if (i > 0 && header[i - 1] !== ' ' && header[i - 1] !== ';') continue;
    const end = header.indexOf(';', i);
    const value = header.slice(i + name.length + 1, end < 0 ? undefined : end).trim();
    return STATE_PATTERN.test(value) ? value : undefined;
  }
  return undefined;
}

/**
 * Sets (or, with `maxAge` 0, removes) the sign-in cookie on this answer: `Max-Age`, `Path=/`,
 * `Expires`, `HttpOnly`, `Secure` on HTTPS requests, `SameSite=Lax` (a top-level navigation back
 * from Space must carry it). Written as one header line, as Express's `res.cookie` would.
 */
export function setBrowserCookie(req: Request, res: Response, name: string, value: string, maxAge: number): void {
  const flags = req.secure ? '; HttpOnly; Secure; SameSite=Lax' : '; HttpOnly; SameSite=Lax';
  res.append('Set-Cookie', maxAge > 0
    ? `${name}=${value}; Max-Age=${Math.floor(maxAge / 1000)}; Path=/; Expires=${new Date(Date.now() + maxAge).toUTCString()}${flags}`
    : `${name}=; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT${flags}`);
}

export type TakeResult =
  | { ok: true; signIn: PendingSignIn; remaining: number }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown' | 'expired' };

function parse(value: string): PendingSignIn | undefined {
  try {
    const v: unknown = JSON.parse(value);
    if (!isRecord(v) || typeof v.verifier !== 'string' || typeof v.redirectURI !== 'string' || typeof v.scope !== 'string' || typeof v.createdAt !== 'number') return undefined;
    return v as unknown as PendingSignIn;
  } catch {
    return undefined;
  }
}

export class PendingStore {
  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly encryption: readonly Buffer[], private readonly settings: { max: number; maxAge: number }) {}

  /** The set of a browser, named by a hash of its sign-in cookie's value (never the value itself). */
  private set(browser: string): string {
    return this.keys.pending(fingerprint(browser));
  }

  private encode(browser: string, field: string, signIn: PendingSignIn): string {
    const json = JSON.stringify(signIn);
    const body = this.encryption.length ? seal(this.encryption, json, `pending:${this.set(browser)}:${field}`) : json;
    return `${signIn.createdAt}|${body}`;
  }

  private decode(browser: string, field: string, value: string): PendingSignIn | undefined {
    const body = value.slice(value.indexOf('|') + 1);
    const opened = openStored(this.encryption, body, `pending:${this.set(browser)}:${field}`);
    if (!opened.ok) return undefined;
    return parse('text' in opened ? opened.text : body);
  }

  /** Stores a pending sign-in and returns its state. */
  async add(browser: string, signIn: PendingSignIn): Promise<string> {
    const state = randomToken();
    const field = fingerprint(state);
    await this.kv.run(ADD_PENDING, [this.set(browser)], [field, this.encode(browser, field, signIn), this.settings.max, this.settings.maxAge]);
    return state;
  }

  /**
   * Removes and returns the pending sign-in for `state`. It is removed before any token
   * request, so a replayed or failed callback can never be used again (RFC 9700 §4.2.4).
   */
  async take(browser: string | undefined, state: unknown, now: number): Promise<TakeResult> {
    if (state === undefined || state === '') return { ok: false, reason: 'missing' };
    if (typeof state !== 'string' || !STATE_PATTERN.test(state)) return { ok: false, reason: 'malformed' };
    // No sign-in cookie (cookies blocked, another host name, or a forged link): nothing to ask Redis.
    if (browser === undefined) return { ok: false, reason: 'unknown' };
    const field = fingerprint(state);
    const answer = await this.kv.run(TAKE_PENDING, [this.set(browser)], [field]) as [string, number];
    const signIn = answer[0] ? this.decode(browser, field, answer[0]) : undefined;
    if (!signIn) return { ok: false, reason: 'unknown' };
    if (now - signIn.createdAt > this.settings.maxAge) return { ok: false, reason: 'expired' };
    return { ok: true, signIn, remaining: Number(answer[1]) };
  }
}
