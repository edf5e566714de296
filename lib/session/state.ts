import type { Request } from 'express';
import { isRecord, PER_PROCESS_MAX, trimOldest } from '../core';
import { sessionOf, type Session } from './session';
import { hookRegenerate, isBlankSession, sentByBrowser, skipUnchangedSave } from './login-hooks';
import { openStored } from '../store';
import { isStoredTokenSet, type StoredTokenSet } from '../tokens';

/**
 * The one module that reads and writes the library's part of the session,
 * `req.session[sessionKey]` (default `req.session.space`):
 * `{ tokens: { grant, version, expiresAt, issuedAt } }` — which sign-in this session is, not its
 * tokens. The tokens live in one place, the sign-in's record (`<prefix>{<grant>}:tokens`, sealed
 * when encryption keys are set), and this process keeps the ones it used lately. So the session
 * express-session parses, hashes and compares on every request stays as small as the user's,
 * and a renewal changes the record, not a copy in every session. Sessions written by 0.1
 * (the tokens themselves in the session, sealed or not) are still read. Pending sign-ins are not
 * in the session (see pending.ts).
 */
interface SpaceSessionData {
  tokens?: TokenRef | StoredTokenSet | SealedTokens;
}

/**
 * What the session holds of its sign-in: the grant (the record's key), and the version, expiry
 * and issue time of the tokens it was signed in with (renewals change the record, not this).
 */
interface TokenRef {
  grant: string;
  version: number;
  expiresAt: number;
  issuedAt: number;
}

/** Tokens this process keeps per strategy (the ones of its active sessions); beyond it, a miss costs one Redis read. */
export const TOKEN_CACHE_SIZE = 2000;

/** Tokens sealed at rest; the bookkeeping fields stay readable so freshness needs no decryption. */
interface SealedTokens {
  sealed: string;
  grant: string;
  version: number;
  expiresAt: number;
  issuedAt: number;
}

const opened = new Map<string, StoredTokenSet>();

export class SessionState {
  private readonly seen = new WeakMap<object, StoredTokenSet>();
  /** The newest tokens this process saw of each sign-in, by grant: written, loaded or renewed. */
  private readonly known = new Map<string, StoredTokenSet>();

  /** `load` reads a sign-in's record: its tokens, undefined when ended or gone. */
  constructor(private readonly key: string, private readonly encryption: readonly Buffer[], private readonly loadRecord: (grant: string) => Promise<StoredTokenSet | undefined>) {}

  private place(grant: string): string {
    return `session:${this.key}:${grant}`;
  }

  private data(session: Session | undefined): SpaceSessionData | undefined {
    const value = session?.[this.key];
    return isRecord(value) ? (value as SpaceSessionData) : undefined;
  }

  /** The grant of the session's sign-in, without reading tokens; undefined when it holds none. */
  grantOf(session: Session | undefined): string | undefined {
    const tokens = this.data(session)?.tokens;
    return isRecord(tokens) && typeof tokens.grant === 'string' && tokens.grant !== '' ? tokens.grant : undefined;
  }

  /**
   * The session's tokens when this process has them at hand (it saw them lately, or the session
   * is an old one that holds them), else undefined: then {@link load} them.
   */
  read(session: Session | undefined): StoredTokenSet | undefined {
    const tokens = this.data(session)?.tokens;
    if (!isRecord(tokens)) return undefined;
    if (isRef(tokens)) {
      const known = this.known.get(tokens.grant);
      return known && known.version >= tokens.version ? known : undefined;
    }
    // The same session object is read several times in one request (middleware, spaceApi,
    // tokensOf): checked (and opened) once. `write` always puts a new object in.
    const known = this.seen.get(tokens);
    if (known) return known;
    const value = this.open(tokens);
    if (value) this.seen.set(tokens, value);
    return value;
  }

  private open(tokens: Record<string, unknown>): StoredTokenSet | undefined {
    const hit = typeof tokens.sealed === 'string' && this.encryption.length ? opened.get(tokens.sealed) : undefined;
    if (hit) return hit;
    const result = openStored(this.encryption, tokens.sealed, this.place(String(tokens.grant)));
    if (!result.ok) return undefined;
    if (!('text' in result)) return isStoredTokenSet(tokens) ? tokens : undefined;
    let value: unknown;
    try {
      value = JSON.parse(result.text);
    } catch {
      return undefined;
    }
    if (!isStoredTokenSet(value) || value.grant !== tokens.grant) return undefined;
    // Decrypting once per token version, not once per request.
    opened.set(tokens.sealed as string, value);
    trimOldest(opened, PER_PROCESS_MAX);
    return value;
  }

  /**
   * The session's tokens: at hand, or read from the sign-in's record (one Redis read; Redis
   * errors are thrown). Undefined when the session holds none, or its sign-in has ended, is gone
   * or cannot be opened: signed out.
   */
  async load(session: Session | undefined): Promise<StoredTokenSet | undefined> {
    const hit = this.read(session);
    if (hit) return hit;
    const tokens = this.data(session)?.tokens;
    if (!isRecord(tokens) || !isRef(tokens)) return undefined;
    const record = await this.loadRecord(tokens.grant);
    if (!record || record.grant !== tokens.grant) return undefined;
    this.keep(record);
    return record;
  }

  /** True when the session holds something under our key that is neither tokens nor a sign-in's reference. */
  hasUnreadable(session: Session | undefined): boolean {
    const tokens = this.data(session)?.tokens;
    return tokens !== undefined && !(isRecord(tokens) && isRef(tokens)) && this.read(session) === undefined;
  }

  /** This process's copy of a sign-in's newest tokens (a renewal, an adopted newer record). */
  keep(tokens: StoredTokenSet): void {
    const known = this.known.get(tokens.grant);
    if (known && known.version > tokens.version) return;
    this.known.delete(tokens.grant);
    this.known.set(tokens.grant, tokens);
    trimOldest(this.known, TOKEN_CACHE_SIZE);
  }

  /** The sign-in has ended: this process forgets its tokens. */
  forget(grant: string): void {
    this.known.delete(grant);
  }

  /**
   * Points the session at this sign-in's tokens (kept by this process; the record is the
   * caller's to write). A session already naming this sign-in is left as it is: a renewal
   * changes the record only, so it never waits for, or races with, the session's save (a burst
   * of requests renewing at once writes no session). An old session holding this very version
   * keeps it (it may have no record until its next renewal writes one); at a renewal it becomes
   * a reference.
   */
  write(session: Session, tokens: StoredTokenSet): void {
    this.keep(tokens);
    const current = this.data(session)?.tokens;
    if (isRecord(current) && current.grant === tokens.grant && (isRef(current) || (current as { version?: unknown }).version === tokens.version)) return;
    session[this.key] = { tokens: { grant: tokens.grant, version: tokens.version, expiresAt: tokens.expiresAt, issuedAt: tokens.issuedAt } };
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
   *
   * `onNewSession` runs once the new session exists, while Passport stores it: what the
   * sign-in writes besides the session goes out in the same round trip to Redis. A session the
   * browser never sent (made in this request, nothing in it) is not in the store: it is
   * replaced without the store's `destroy` (a DEL of a key that cannot exist).
   */
  carryThroughLogIn(req: Request, tokens: StoredTokenSet, returnTo: string | undefined, onLoggedIn: (err?: unknown) => Promise<void> | void, onNewSession?: () => void): void {
    const original = req.logIn;
    const write = (session: Session) => this.write(session, tokens);
    const wrapped = function logIn(this: Request, user: Express.User, optionsOrDone: unknown, maybeDone?: (err?: unknown) => void): void {
      const done = (typeof optionsOrDone === 'function' ? optionsOrDone : maybeDone) as (err?: unknown) => void;
      const options = { ...((typeof optionsOrDone === 'function' ? {} : optionsOrDone ?? {}) as { session?: boolean; keepSessionInfo?: boolean }) };
      req.login = req.logIn = original;
      const session = sessionOf(req);
      const oldID = (req as unknown as { sessionID?: string }).sessionID ?? '';
      if (session && options.session !== false) {
        hookRegenerate(req, session, isBlankSession(session) && !sentByBrowser(req, oldID), onNewSession);
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
        Promise.resolve(onLoggedIn(err)).then(() => done(err), (e: unknown) => done(e));
      });
    };
    req.login = req.logIn = wrapped as typeof req.logIn;
  }
}

/** A reference to a sign-in's record: bookkeeping only, no tokens, not sealed. */
function isRef(tokens: Record<string, unknown>): tokens is Record<string, unknown> & TokenRef {
  return typeof tokens.grant === 'string' && typeof tokens.version === 'number' && !('sealed' in tokens) && !('accessToken' in tokens);
}
