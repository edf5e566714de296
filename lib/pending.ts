import { randomBytes } from 'node:crypto';
import { fingerprint, type Keys } from './keys';
import type { KV } from './redis';
import { ADD_PENDING, DRAIN_PENDING, TAKE_PENDING } from './redis/scripts';
import { isSealed, seal, unseal } from './seal';
import { isRecord } from './validate';

/**
 * Pending sign-ins: what the callback needs to finish a sign-in this browser started (the PKCE
 * verifier, the exact redirect_uri, where to land). They are written to Redis, keyed by the
 * session and the state, *before* the browser is sent to Space — not left to express-session's
 * save at the end of the request, where parallel tabs would overwrite each other (last writer
 * wins). Bounded in number per session and in age.
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

  /** The set of a session, named by a hash of its id (never the id itself). */
  private set(sessionID: string): string {
    return this.keys.pending(fingerprint(sessionID));
  }

  private encode(sessionID: string, field: string, signIn: PendingSignIn): string {
    const json = JSON.stringify(signIn);
    const body = this.encryption.length ? seal(this.encryption, json, `pending:${this.set(sessionID)}:${field}`) : json;
    return `${signIn.createdAt}|${body}`;
  }

  private decode(sessionID: string, field: string, value: string): PendingSignIn | undefined {
    const body = value.slice(value.indexOf('|') + 1);
    if (!isSealed(body)) return this.encryption.length ? undefined : parse(body);
    const plain = unseal(this.encryption, body, `pending:${this.set(sessionID)}:${field}`);
    return plain === undefined ? undefined : parse(plain);
  }

  /** Stores a pending sign-in and returns its state. */
  async add(sessionID: string, signIn: PendingSignIn): Promise<string> {
    const state = randomToken();
    const field = fingerprint(state);
    await this.kv.run(ADD_PENDING, [this.set(sessionID)], [field, this.encode(sessionID, field, signIn), this.settings.max, this.settings.maxAge]);
    return state;
  }

  /**
   * Removes and returns the pending sign-in for `state`. It is removed before any token
   * request, so a replayed or failed callback can never be used again (RFC 9700 §4.2.4).
   */
  async take(sessionID: string, state: unknown, now: number): Promise<TakeResult> {
    if (state === undefined || state === '') return { ok: false, reason: 'missing' };
    if (typeof state !== 'string' || !STATE_PATTERN.test(state)) return { ok: false, reason: 'malformed' };
    const field = fingerprint(state);
    const answer = await this.kv.run(TAKE_PENDING, [this.set(sessionID)], [field]) as [string, number];
    const signIn = answer[0] ? this.decode(sessionID, field, answer[0]) : undefined;
    if (!signIn) return { ok: false, reason: 'unknown' };
    if (now - signIn.createdAt > this.settings.maxAge) return { ok: false, reason: 'expired' };
    return { ok: true, signIn, remaining: Number(answer[1]) };
  }

  /**
   * Moves the other pending sign-ins of a session to its new id (Passport gives the session a
   * new id at login), so tabs still on their way back from Space complete too.
   */
  async move(fromID: string, toID: string): Promise<void> {
    const flat = await this.kv.run(DRAIN_PENDING, [this.set(fromID)], []) as string[];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const signIn = this.decode(fromID, flat[i]!, flat[i + 1]!);
      if (!signIn) continue;
      await this.kv.run(ADD_PENDING, [this.set(toID)], [flat[i]!, this.encode(toID, flat[i]!, signIn), this.settings.max, this.settings.maxAge]);
    }
  }
}
