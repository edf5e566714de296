import type { Request } from 'express';
import { trimOldest } from './bounded';
import { isSealed, seal, unseal } from './seal';
import { isStoredTokenSet, type StoredTokenSet } from './token-set';
import { isRecord } from './validate';

/**
 * The one module that reads and writes the library's part of the session,
 * `req.session[sessionKey]` (default `req.session.space`):
 * `{ tokens }` — the sign-in's tokens (sealed when encryption keys are set). Pending sign-ins
 * are not in the session (see pending.ts). With express-session and connect-redis the session
 * is a value in Redis: the cookie carries only the signed session id.
 */
interface SpaceSessionData {
  tokens?: StoredTokenSet | SealedTokens;
}

/** Tokens sealed at rest; the bookkeeping fields stay readable so freshness needs no decryption. */
interface SealedTokens {
  sealed: string;
  grant: string;
  version: number;
  expiresAt: number;
  issuedAt: number;
}

type Session = Record<string, unknown> & {
  cookie?: { maxAge?: number | null; originalMaxAge?: number | null };
  save?: (cb: (err?: unknown) => void) => void;
  destroy?: (cb: (err?: unknown) => void) => void;
};

/** `req.session` without depending on express-session's type augmentation. */
export function sessionOf(req: Request): Session | undefined {
  return (req as unknown as { session?: Session }).session;
}

const opened = new Map<string, StoredTokenSet>();

export class SessionState {
  private readonly seen = new WeakMap<object, StoredTokenSet>();

  constructor(private readonly key: string, private readonly encryption: readonly Buffer[]) {}

  private place(grant: string): string {
    return `session:${this.key}:${grant}`;
  }

  private data(session: Session | undefined): SpaceSessionData | undefined {
    const value = session?.[this.key];
    return isRecord(value) ? (value as SpaceSessionData) : undefined;
  }

  /** The session's tokens, or undefined (none, damaged, or sealed with a key no longer listed). */
  read(session: Session | undefined): StoredTokenSet | undefined {
    const tokens = this.data(session)?.tokens;
    if (!isRecord(tokens)) return undefined;
    // The same session object is read several times in one request (middleware, spaceApi,
    // tokensOf): checked (and opened) once. `write` always puts a new object in.
    const known = this.seen.get(tokens);
    if (known) return known;
    const value = this.open(tokens);
    if (value) this.seen.set(tokens, value);
    return value;
  }

  private open(tokens: Record<string, unknown>): StoredTokenSet | undefined {
    if (!isSealed(tokens.sealed)) return !this.encryption.length && isStoredTokenSet(tokens) ? tokens : undefined;
    if (!this.encryption.length) return undefined;
    const hit = opened.get(tokens.sealed);
    if (hit) return hit;
    const plain = unseal(this.encryption, tokens.sealed, this.place(String(tokens.grant)));
    if (plain === undefined) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(plain);
    } catch {
      return undefined;
    }
    if (!isStoredTokenSet(value) || value.grant !== tokens.grant) return undefined;
    // Decrypting once per token version, not once per request.
    opened.set(tokens.sealed, value);
    trimOldest(opened, 10_000);
    return value;
  }

  /** True when the session holds something under our key that is not readable tokens. */
  hasUnreadable(session: Session | undefined): boolean {
    const data = this.data(session);
    return data?.tokens !== undefined && this.read(session) === undefined;
  }

  write(session: Session, tokens: StoredTokenSet): void {
    const value = this.encryption.length
      ? { sealed: seal(this.encryption, JSON.stringify(tokens), this.place(tokens.grant)), grant: tokens.grant, version: tokens.version, expiresAt: tokens.expiresAt, issuedAt: tokens.issuedAt }
      : tokens;
    session[this.key] = { tokens: value };
  }

  clear(session: Session | undefined): void {
    if (session && this.key in session) delete session[this.key];
  }

  /**
   * Passport ≥ 0.6 regenerates the session in `req.logIn` (against session fixation) and drops
   * what was in it. For this request's next `req.logIn`, the tokens (and `returnTo`) are put in
   * the old session and Passport is asked to carry them over (`keepSessionInfo`), with nothing
   * else of the old session and not its cookie: so the new session is stored once, with the
   * tokens in it, before Passport answers — not at the end of the request.
   */
  carryThroughLogIn(req: Request, tokens: StoredTokenSet, returnTo: string | undefined, onLoggedIn: (oldID: string, err?: unknown) => Promise<void> | void): void {
    const original = req.logIn;
    const write = (session: Session) => this.write(session, tokens);
    const wrapped = function logIn(this: Request, user: Express.User, optionsOrDone: unknown, maybeDone?: (err?: unknown) => void): void {
      const done = (typeof optionsOrDone === 'function' ? optionsOrDone : maybeDone) as (err?: unknown) => void;
      const options = { ...((typeof optionsOrDone === 'function' ? {} : optionsOrDone ?? {}) as { session?: boolean; keepSessionInfo?: boolean }) };
      req.login = req.logIn = original;
      const session = sessionOf(req);
      const oldID = (req as unknown as { sessionID?: string }).sessionID ?? '';
      if (session && options.session !== false) {
        if (!options.keepSessionInfo) {
          for (const name of Object.keys(session)) if (name !== 'cookie') delete session[name];
        }
        write(session);
        if (returnTo) session.returnTo = returnTo;
        options.keepSessionInfo = true;
      }
      // Passport copies every own key of the old session, the cookie too: keep the new
      // session's own cookie (a session made for a sign-in has a short one).
      const cookie = session?.cookie;
      if (session) delete session.cookie;
      original.call(req, user, options as never, (err?: unknown) => {
        if (session && cookie && !('cookie' in session)) session.cookie = cookie;
        if (!err) skipUnchangedSave(sessionOf(req));
        Promise.resolve(onLoggedIn(oldID, err)).then(() => done(err), (e: unknown) => done(e));
      });
    };
    req.login = req.logIn = wrapped as typeof req.logIn;
  }
}

/**
 * Passport has just stored the new session. express-session would store it again at the end
 * of the request (after a regenerate it cannot tell that it was saved): that second write is
 * skipped when the session is still exactly what was stored. Any change (a `returnTo` taken,
 * a flash message, `rolling` cookies) still writes.
 */
function skipUnchangedSave(session: Session | undefined): void {
  const save = session?.save;
  if (!session || typeof save !== 'function') return;
  const stored = JSON.stringify(session);
  Object.defineProperty(session, 'save', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function saveIfChanged(this: Session, cb?: (err?: unknown) => void) {
      // Once: a later save in this request (or the next one) writes as usual.
      Object.defineProperty(this, 'save', { configurable: true, enumerable: false, writable: true, value: save });
      if (JSON.stringify(this) === stored) {
        if (cb) process.nextTick(cb);
        return this;
      }
      return save.call(this, cb ?? (() => undefined));
    },
  });
}

/** Stores the session now (express-session would only at the end of the request). */
export function saveSession(req: Request): Promise<void> {
  const session = sessionOf(req);
  if (!session?.save) return Promise.resolve();
  return new Promise((resolve, reject) => session.save!((err) => (err ? reject(err) : resolve())));
}

export function destroySession(req: Request): Promise<void> {
  const session = sessionOf(req);
  if (!session?.destroy) return Promise.resolve();
  return new Promise((resolve, reject) => session.destroy!((err) => (err ? reject(err) : resolve())));
}

/** Milliseconds the session has left, when its cookie has an expiry. */
export function sessionLife(req: Request): number | undefined {
  const maxAge = sessionOf(req)?.cookie?.maxAge;
  return typeof maxAge === 'number' && maxAge > 0 ? maxAge : undefined;
}

/** A session that holds nothing yet (no user, no data): made for this request only. */
export function isBlankSession(session: Session | undefined): boolean {
  return !!session && Object.keys(session).every((k) => k === 'cookie');
}
