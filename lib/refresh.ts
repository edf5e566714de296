import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { SpaceTokenError, isSpaceError } from './errors';
import { answerSignedOut, sendError } from './respond';
import { clearTokens, readTokens, sessionOf, writeTokens } from './session-tokens';
import type { SpaceStrategy } from './strategy';
import { isFresh, mergeRenewed, publicView, type SpaceTokenSet, type StoredTokenSet } from './token-set';
import {
  DEFAULT_KEY_PREFIX, DEFAULT_REDIS_TIMEOUT, DEFAULT_TOKEN_TTL, MemoryTokenStore, RedisUnavailableError, TokenStore,
  type RedisLike, type TokenBackend,
} from './token-store';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The signed-in user's Space tokens, valid for at least the skew (set by spaceTokenRefresh). */
      spaceTokens?: SpaceTokenSet;
    }
  }
}

/** Something worth knowing happened; never carries a token or a session id. */
export interface SpaceTokenEvent {
  event: 'token.refreshed' | 'token.adopted' | 'token.refresh_rejected' | 'token.refresh_failed' | 'token.no_refresh_token'
    | 'token.persist_failed' | 'token.persisted_late' | 'redis.unavailable';
  /** A hash of the sign-in's grant id, to correlate lines; not a secret. */
  grant?: string;
  reason?: string;
  status?: number;
  error?: string;
  message?: string;
}

/** Options of {@link spaceTokenRefresh}. */
export interface SpaceTokenRefreshOptions {
  /** The SpaceStrategy instance the users signed in with. */
  strategy: SpaceStrategy;
  /**
   * An ioredis client, shared by every process of the app (the one connect-redis uses is
   * fine). Without it, the newest tokens and the renewal lock live in this process's
   * memory: fine for a single process, but several processes would each renew.
   */
  redis?: RedisLike;
  /** Renew when the access token has less than this left, ms. Default 60000. */
  skew?: number;
  /** Prefix of the keys this middleware writes. Default `'space:'`. */
  keyPrefix?: string;
  /** Life of the refresh lock if its holder dies, ms. Default: the strategy's timeout + 5000. */
  lockTTL?: number;
  /** Life of the newest tokens' copy in Redis after its last renewal, ms. Default 30 days. */
  tokenTTL?: number;
  /** Longest wait for one Redis command, ms. Default 2000. */
  redisTimeout?: number;
  /** After Space failed transiently, wait this long before trying it again, ms (unless it sent Retry-After). Default 5000. */
  retryDelay?: number;
  /** Where a browser goes to sign in again; `?returnTo=` is added. Default `'/auth/space'`. */
  signInURL?: string;
  /** Receives events (renewals, failures) for your logs. Never given a token or a session id. */
  onEvent?: (event: SpaceTokenEvent) => void;
}

type Outcome =
  | { kind: 'fresh'; tokens: StoredTokenSet; refreshed: boolean }
  | { kind: 'revoked'; reason: string }
  | { kind: 'unavailable'; retryAfter: number; reason: string };

const kContext = Symbol.for('passport-jetbrains-space.context');

/** What spaceApi(req) needs from the middleware: one object per middleware, not per request. */
export interface RefreshContext {
  strategy: SpaceStrategy;
  /** Renews now (even a token that looks fresh) and returns the new tokens, or throws. */
  renewNow(req: Request): Promise<SpaceTokenSet>;
  /** Signs the user out after Space revoked the grant: tokens dead in Redis and gone from the session, Passport logout. */
  endRevokedSession(req: Request): Promise<void>;
}

export function contextOf(req: Request): RefreshContext | undefined {
  return (req as unknown as Record<symbol, RefreshContext | undefined>)[kContext];
}

function grantHash(grant: string): string {
  return createHash('sha256').update(grant).digest('base64url').slice(0, 12);
}

/** Thrown by renewNow when the user can no longer be given a token. */
export class SpaceSessionEndedError extends Error {
  readonly status = 401;
  constructor(message: string) {
    super(message);
    this.name = 'SpaceSessionEndedError';
  }
}

/**
 * Renews each sign-in's tokens at most once at a time: in this process through a shared
 * promise, across processes through a short Redis lock whose losers wait and then read the
 * winner's tokens. The newest tokens are also written to their own Redis key, versioned,
 * so a slow request that saves an older session copy cannot bring old tokens back
 * (express-session writes the whole session, last writer wins).
 */
class Renewer {
  private readonly inFlight = new Map<string, Promise<Outcome>>();
  /**
   * Renewals Space answered but Redis could not store. With a rotating Space the old
   * refresh token is already dead, so these are kept here and written as soon as Redis
   * answers again (SECURITY-CATALOG test 55), instead of losing the sign-in.
   */
  private readonly unsaved = new Map<string, { tokens: StoredTokenSet; until: number; lock: string }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private pausedUntil = 0;
  readonly store: TokenBackend;

  constructor(
    private readonly strategy: SpaceStrategy,
    redis: RedisLike | undefined,
    private readonly o: Required<Omit<SpaceTokenRefreshOptions, 'strategy' | 'redis' | 'onEvent' | 'signInURL'>> & Pick<SpaceTokenRefreshOptions, 'onEvent'>,
  ) {
    this.store = redis
      ? new TokenStore(redis, { prefix: o.keyPrefix, ttl: o.tokenTTL, lockTTL: o.lockTTL, commandTimeout: o.redisTimeout })
      : new MemoryTokenStore({ ttl: o.tokenTTL, lockTTL: o.lockTTL });
  }

  emit(event: SpaceTokenEvent): void {
    try {
      this.o.onEvent?.(event);
    } catch {
      // A logger must never break a request.
    }
  }

  private keepUnsaved(tokens: StoredTokenSet, err: unknown, lock: string): void {
    if (this.unsaved.size >= 10_000) this.unsaved.delete(this.unsaved.keys().next().value as string);
    this.unsaved.set(tokens.grant, { tokens, until: Date.now() + Math.min(this.o.tokenTTL, 3_600_000), lock });
    this.emit({ event: 'token.persist_failed', grant: grantHash(tokens.grant), message: err instanceof Error ? err.message : String(err) });
    if (!this.flushTimer) {
      this.flushTimer = setInterval(() => void this.flushUnsaved(), 1000);
      this.flushTimer.unref();
    }
  }

  /** Writes renewals kept in memory; drops those past their time. */
  private async flushUnsaved(): Promise<void> {
    for (const [grant, entry] of this.unsaved) {
      if (entry.until < Date.now()) {
        this.unsaved.delete(grant);
        continue;
      }
      try {
        // Also releases the renewal lock if it is still ours, so nobody waits for its TTL.
        await this.store.write(entry.tokens, grant, entry.lock);
        if (this.unsaved.get(grant) === entry) this.unsaved.delete(grant);
        this.emit({ event: 'token.persisted_late', grant: grantHash(grant) });
      } catch {
        return; // Redis still away: try again on the next tick.
      }
    }
    if (this.unsaved.size === 0 && this.flushTimer) {
      clearInterval(this.flushTimer);
      this.flushTimer = undefined;
    }
  }

  /** Fresh tokens for this sign-in, renewing once for everyone who asks at the same time. */
  renew(current: StoredTokenSet, force: boolean): Promise<Outcome> {
    const key = `${current.grant}:${force ? current.version : 'any'}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.renewOnce(current, force).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private usable(tokens: StoredTokenSet, force: boolean, than: StoredTokenSet): boolean {
    return force ? tokens.version > than.version : isFresh(tokens, this.o.skew, Date.now());
  }

  private async renewOnce(fromSession: StoredTokenSet, force: boolean): Promise<Outcome> {
    const { grant } = fromSession;
    let current = fromSession;
    const local = this.unsaved.get(grant);
    if (local && local.tokens.version > current.version) {
      // A renewal this process made while Redis was away is newer than the session's copy.
      await this.flushUnsaved();
      current = local.tokens;
      if (this.usable(current, force, fromSession)) return { kind: 'fresh', tokens: current, refreshed: false };
    }
    const deadline = Date.now() + this.o.lockTTL + 1000;
    for (;;) {
      // Someone (another request, another process) may have renewed already.
      const side = await this.store.read(grant);
      if (side && 'revoked' in side) return { kind: 'revoked', reason: 'grant_revoked' };
      const base = side && side.version >= current.version ? side : current;
      if (side && side.version > current.version && this.usable(side, force, current)) {
        this.emit({ event: 'token.adopted', grant: grantHash(grant) });
        return { kind: 'fresh', tokens: side, refreshed: false };
      }
      if (!force && isFresh(base, this.o.skew, Date.now())) return { kind: 'fresh', tokens: base, refreshed: false };

      const lock = await this.store.lock(grant);
      if (lock) return this.renewLocked(base, lock);
      // Another process is renewing: wait for its result rather than renewing again.
      while (await this.store.isLocked(grant)) {
        if (Date.now() > deadline) return { kind: 'unavailable', retryAfter: 2, reason: 'lock_timeout' };
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  private async renewLocked(base: StoredTokenSet, lock: string): Promise<Outcome> {
    const { grant } = base;
    let released = false;
    try {
      // Re-read under the lock: the previous holder may have finished just before we took it.
      const side = await this.store.read(grant);
      if (side && 'revoked' in side) return { kind: 'revoked', reason: 'grant_revoked' };
      if (side && side.version > base.version) return { kind: 'fresh', tokens: side, refreshed: false };
      if (!base.refreshToken) {
        this.emit({ event: 'token.no_refresh_token', grant: grantHash(grant) });
        return { kind: 'revoked', reason: 'no_refresh_token' };
      }
      if (Date.now() < this.pausedUntil) {
        return { kind: 'unavailable', retryAfter: Math.ceil((this.pausedUntil - Date.now()) / 1000), reason: 'space_paused' };
      }
      let renewed: SpaceTokenSet;
      try {
        renewed = await this.strategy.refresh(base.refreshToken, base.scope ? { scope: base.scope } : {});
      } catch (err) {
        return await this.refreshFailed(base, lock, err, () => { released = true; });
      }
      const next = mergeRenewed(base, renewed, Date.now());
      try {
        await this.store.write(next, grant, lock);
      } catch (err) {
        // Space has answered: the new tokens are the only good ones now. Serve them, keep
        // them, and write them (releasing the lock) when Redis takes writes again.
        released = true;
        this.keepUnsaved(next, err, lock);
        return { kind: 'fresh', tokens: next, refreshed: true };
      }
      released = true;
      this.emit({ event: 'token.refreshed', grant: grantHash(grant) });
      return { kind: 'fresh', tokens: next, refreshed: true };
    } finally {
      if (!released) await this.store.unlock(grant, lock).catch(() => undefined);
    }
  }

  private async refreshFailed(base: StoredTokenSet, lock: string, err: unknown, markReleased: () => void): Promise<Outcome> {
    const grant = grantHash(base.grant);
    if (err instanceof SpaceTokenError && err.grantRevoked) {
      // Before signing out, make sure no other process renewed with the same token meanwhile.
      const side = await this.store.read(base.grant);
      if (side && !('revoked' in side) && side.version > base.version) return { kind: 'fresh', tokens: side, refreshed: false };
      await this.store.tombstone(base.grant, lock);
      markReleased();
      this.emit({ event: 'token.refresh_rejected', grant, reason: 'invalid_grant', status: err.status, error: err.error, message: err.message });
      return { kind: 'revoked', reason: 'invalid_grant' };
    }
    const retryAfter = isSpaceError(err) && err.retryAfter !== undefined ? err.retryAfter : Math.ceil(this.o.retryDelay / 1000);
    if (isSpaceError(err) && err.transient) this.pausedUntil = Date.now() + retryAfter * 1000;
    // invalid_client, a malformed answer...: our side or Space's is broken, not the user's
    // grant. Keep the session (a bad secret must not sign everyone out).
    this.emit({
      event: 'token.refresh_failed', grant, reason: isSpaceError(err) ? err.code : 'error',
      status: isSpaceError(err) ? err.status : undefined, error: isSpaceError(err) ? err.error : undefined,
      message: err instanceof Error ? err.message : String(err),
    });
    return { kind: 'unavailable', retryAfter: Math.max(1, retryAfter), reason: isSpaceError(err) ? err.code : 'error' };
  }
}

/**
 * Express middleware that gives every request of a signed-in user a valid Space access
 * token in `req.spaceTokens`, renewing it first when it expires within the skew. Mount it
 * after `passport.session()`.
 *
 * - Fresh token: no I/O at all.
 * - Expired: exactly one token request per sign-in, however many requests (and app
 *   processes) ask at once; the others wait and use its result.
 * - Refresh token dead (`invalid_grant`): the user is signed out; a page request is sent to
 *   sign in again, an API request gets 401 JSON.
 * - Space down, slow or rate limiting: the session is kept; the request goes on with the
 *   current token if it is still valid, else 503 with `Retry-After`.
 * - Redis down: 503 within `redisTimeout`, never a hang, never a sign-out.
 */
export function spaceTokenRefresh(options: SpaceTokenRefreshOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError('spaceTokenRefresh requires options: { strategy, redis }');
  const { strategy, redis } = options;
  if (!strategy || typeof (strategy as Partial<SpaceStrategy>).refresh !== 'function') {
    throw new TypeError('spaceTokenRefresh requires a "strategy" option: the SpaceStrategy instance');
  }
  if (redis !== undefined && (!redis || typeof redis.get !== 'function' || typeof redis.eval !== 'function')) {
    throw new TypeError('spaceTokenRefresh option "redis" must be an ioredis client');
  }
  const number = (name: keyof SpaceTokenRefreshOptions, fallback: number, min = 0): number => {
    const value = options[name];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
      throw new TypeError(`spaceTokenRefresh option "${name}" must be a number >= ${min}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const signInURL = options.signInURL ?? '/auth/space';
  if (typeof signInURL !== 'string' || !signInURL.startsWith('/')) {
    throw new TypeError(`spaceTokenRefresh option "signInURL" must be a local path like "/auth/space", got ${JSON.stringify(signInURL)}`);
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw new TypeError('spaceTokenRefresh option "keyPrefix" must be a string');
  const skew = number('skew', 60_000);
  const renewer = new Renewer(strategy, redis, {
    skew,
    keyPrefix,
    lockTTL: number('lockTTL', strategy.settings.timeout + 5000, 100),
    tokenTTL: number('tokenTTL', DEFAULT_TOKEN_TTL, 1000),
    redisTimeout: number('redisTimeout', DEFAULT_REDIS_TIMEOUT, 10),
    retryDelay: number('retryDelay', 5000, 0),
    onEvent: options.onEvent,
  });
  const sessionKey = strategy.settings.sessionKey;

  const apply = (req: Request, tokens: StoredTokenSet): void => {
    const session = sessionOf(req)!;
    const inSession = readTokens(session, sessionKey);
    if (!inSession || inSession.version < tokens.version || inSession.grant !== tokens.grant) writeTokens(session, sessionKey, tokens);
    req.spaceTokens = publicView(tokens);
  };

  // Signs the user out. Where the renewal path has already marked the grant dead in Redis
  // (invalid_grant) or there is nothing to mark (no refresh token), no second write.
  const endSession = async (req: Request, tombstone: boolean): Promise<void> => {
    const current = readTokens(sessionOf(req), sessionKey);
    if (current && tombstone) await renewer.store.tombstone(current.grant).catch(() => undefined);
    clearTokens(sessionOf(req), sessionKey);
    const logout = (req as unknown as { logout?: (cb: (err?: unknown) => void) => void }).logout;
    if (typeof logout === 'function' && (req as unknown as { user?: unknown }).user !== undefined) {
      await new Promise<void>((resolve) => logout.call(req, () => resolve()));
    }
  };

  const renewNow = async (req: Request): Promise<SpaceTokenSet> => {
    const current = readTokens(sessionOf(req), sessionKey);
    if (!current) throw new SpaceSessionEndedError('Not signed in with Space');
    const outcome = await renewer.renew(current, true);
    if (outcome.kind === 'fresh') {
      apply(req, outcome.tokens);
      return publicView(outcome.tokens);
    }
    if (outcome.kind === 'revoked') {
      await endSession(req, false);
      throw new SpaceSessionEndedError('The Space sign-in has ended; sign in again');
    }
    throw new SpaceTokenError(`Could not renew the Space access token (${outcome.reason})`, { code: 'SPACE_UNAVAILABLE', retryAfter: outcome.retryAfter });
  };

  const context: RefreshContext = { strategy, renewNow, endRevokedSession: (req) => endSession(req, true) };

  return function spaceTokenRefreshMiddleware(req: Request, res: Response, next: NextFunction): void {
    (req as unknown as Record<symbol, RefreshContext>)[kContext] = context;
    const current = readTokens(sessionOf(req), sessionKey);
    if (!current) return next();
    if (isFresh(current, skew, Date.now())) {
      req.spaceTokens = publicView(current);
      return next();
    }
    renewer.renew(current, false).then(async (outcome) => {
      if (outcome.kind === 'fresh') {
        apply(req, outcome.tokens);
        return next();
      }
      if (outcome.kind === 'revoked') {
        await endSession(req, false);
        return answerSignedOut(req, res, signInURL);
      }
      if (current.expiresAt > Date.now()) {
        // Inside the skew but not yet expired: better an old token than no answer.
        req.spaceTokens = publicView(current);
        return next();
      }
      sendError(req, res, 503, 'temporarily_unavailable', 'Space is not answering right now; try again shortly',
        { headers: { 'Retry-After': String(outcome.retryAfter) } });
    }).catch((err: unknown) => {
      if (err instanceof RedisUnavailableError) {
        renewer.emit({ event: 'redis.unavailable', message: err.message });
        sendError(req, res, 503, 'temporarily_unavailable', 'The session store is not answering right now; try again shortly', { headers: { 'Retry-After': '2' } });
        return;
      }
      next(err);
    });
  };
}
