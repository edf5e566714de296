import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { bindRequest, bindShared, endSignIn, type SpaceRuntime } from '../runtime';
import { fingerprint } from '../store';
import { isRedisOutage, localPath, onlyKnown, RedisUnavailableError, SpaceSessionEndedError, SpaceTokenError } from '../core';
import { answerSignedOut, answerUnavailable, requestPath } from '../web';
import { guardStore, MOUNT_ORDER, passportSessionMissing, sessionOf } from '../session';
import { touchSession } from '../members';
import { guardLifetimes, lifetimesOn } from '../lifetimes';
import { SHARED_OPTION_NAMES, type SpaceSharedOptions } from '../config';
import type { SpaceStrategy } from '../strategy';
import { isFresh, type SpaceTokenSet, type StoredTokenSet } from '../tokens';

export type { SpaceTokenEvent } from '../core';

/**
 * Options of {@link spaceTokenRefresh}. Only `strategy` is needed: the shared settings
 * (`redis`, `keyPrefix`, `skew`, `lockTTL`, ...) are read from it. Given here instead, each
 * must agree with what the strategy was given.
 */
export interface SpaceTokenRefreshOptions extends SpaceSharedOptions {
  /** The SpaceStrategy instance the users signed in with. */
  strategy: SpaceStrategy;
  /** Same as the shared `signInPath`: where a browser goes to sign in again. */
  signInURL?: string;
}

const OWNER = 'spaceTokenRefresh';
/** Every option name spaceTokenRefresh accepts; any other is a TypeError. */
export const TOKEN_REFRESH_OPTION_NAMES = ['strategy', 'signInURL', ...SHARED_OPTION_NAMES] as const;

type Answer = { kind: 'next' } | { kind: 'ended' } | { kind: 'unavailable'; retryAfter: number; what: 'store' | 'space' };

/**
 * Express middleware that gives every request of a signed-in user a valid Space access
 * token in `req.spaceTokens`, renewing it first when it expires within the skew. Mount it
 * after `passport.session()`: mounted before it (or before express-session), every request is an
 * error that names the order, rather than a sign-in that seems to be missing.
 *
 * - Fresh token: no I/O (this process re-checks a sign-in against Redis at most every 30 s).
 * - Expired: exactly one token request per sign-in, however many requests (and app
 *   processes) ask at once; the others wait and use its result.
 * - Signed out elsewhere, or the refresh token dead (`invalid_grant`): the user is signed
 *   out; a page request is sent to sign in again, an API request gets 401 JSON.
 * - Space or Redis away: the session is kept; the request goes on with the current token if
 *   it has not expired yet, else 503 with `Retry-After`. Never a hang, never a sign-out.
 * - The sign-out route (`signOutPath`, POST) is never held up by a renewal.
 * - With the shared `idleTimeout` or `absoluteTimeout`, a sign-in past either ends here, in every
 *   process, and the member is answered as signed out (docs/operations.md).
 */
export function spaceTokenRefresh(options: SpaceTokenRefreshOptions): RequestHandler {
  onlyKnown(OWNER, options ?? {}, TOKEN_REFRESH_OPTION_NAMES);
  const { signInURL, ...rest } = (options ?? {}) as SpaceTokenRefreshOptions;
  if (signInURL !== undefined) (rest as SpaceSharedOptions).signInPath = localPath(OWNER, 'signInURL', signInURL);
  const strategy = bindShared(OWNER, rest);
  // The runtime is read per request: it is built from the shared settings on first use.

  const apply = (req: Request, tokens: StoredTokenSet): void => {
    // This process keeps the newest tokens; a session naming this sign-in is not changed (no save).
    strategy.runtime.session.write(sessionOf(req)!, tokens);
    req.spaceTokens = strategy.runtime.view(tokens);
  };

  const decide = async (req: Request, current: StoredTokenSet): Promise<Answer> => {
    const runtime = strategy.runtime;
    // Once per process: learn this process's offset to Redis's clock before deciding.
    if (!runtime.clock.tried) await runtime.clock.start();
    const checked = await runtime.check(current);
    if (checked.ended) {
      await endSignIn(strategy.runtime, req, { revoke: false, mark: false, reason: 'ended_elsewhere' });
      return { kind: 'ended' };
    }
    let tokens = checked.newest;
    if (tokens !== current) {
      // Another process renewed this sign-in: say so, as the renewal engine does when it waits.
      runtime.emit({ event: 'token.adopted', grant: fingerprint(tokens.grant, 12), reason: 'newer_copy' });
      apply(req, tokens);
    }
    if (!isFresh(tokens, runtime.settings.skew, runtime.clock.now())) {
      const outcome = await runtime.engine.renew(tokens, false, runtime.recordTTL(req));
      if (outcome.kind === 'ended') {
        // Ended by the engine (marked), or without a refresh token (marked here: it is over).
        await endSignIn(strategy.runtime, req, { revoke: false, mark: outcome.reason === 'no_refresh_token', reason: outcome.reason });
        return { kind: 'ended' };
      }
      if (outcome.kind === 'unavailable') {
        // Inside the skew but not yet expired: better an old token than no answer.
        if (tokens.expiresAt > runtime.clock.now()) return (req.spaceTokens = runtime.view(tokens)), { kind: 'next' };
        return { kind: 'unavailable', retryAfter: outcome.retryAfter, what: 'space' };
      }
      tokens = outcome.tokens;
    }
    apply(req, tokens);
    return { kind: 'next' };
  };

  const onRedisDown = (req: Request, res: Response, next: NextFunction, current: StoredTokenSet | undefined, err: unknown): void => {
    const runtime = strategy.runtime;
    if (!isRedisOutage(err)) return next(err);
    runtime.emit({ event: 'redis.unavailable', message: err instanceof Error ? err.message : String(err) });
    // Redis away but the token still valid: go on with it, as when Space is away.
    if (current && current.expiresAt > runtime.clock.now()) {
      req.spaceTokens = runtime.view(current);
      return next();
    }
    answerUnavailable(req, res, 'store');
  };

  const middleware = function spaceTokenRefreshMiddleware(req: Request, res: Response, next: NextFunction): void {
    bindRequest(req, strategy.runtime);
    guardStore((req as unknown as { sessionStore?: unknown }).sessionStore, strategy.runtime.emit);
    // A sign-in past idleTimeout or absoluteTimeout ends here, before anything else is done for it.
    // Both off (the default): no guard and no closure on the hot path.
    if (!lifetimesOn(strategy.runtime)) return serve(req, res, next);
    guardLifetimes(strategy.runtime, req, res, next, () => serve(req, res, next));
  };

  const serve = (req: Request, res: Response, next: NextFunction): void => {
    const runtime = strategy.runtime;
    const session = sessionOf(req);
    // Mounted in the wrong order, it would see no sign-in and let every route fail later with a
    // misleading "Not signed in with Space" (or leave a Passport user whose sign-in has ended).
    if (!session) {
      return next(new TypeError(`spaceTokenRefresh() ran before express-session: this request has no session (req.session). Mount them in this order: ${MOUNT_ORDER}`));
    }
    if (passportSessionMissing(req)) {
      return next(new TypeError('spaceTokenRefresh() ran before passport.session(): the session holds a signed-in user but req.user is not set. '
        + `Mount passport.session() (it is missing, or comes after spaceTokenRefresh): ${MOUNT_ORDER}`));
    }
    const current = runtime.session.read(session);
    if (!current) {
      if (runtime.session.hasUnreadable(session)) {
        // Tokens that no key opens any more (a retired encryption key) or damaged: signed out, cleanly.
        endSignIn(strategy.runtime, req, { revoke: false, mark: false, reason: 'unreadable' }).then(() => next(), next);
        return;
      }
      if (runtime.session.grantOf(session) === undefined) return next();
      // A sign-in whose tokens this process has not seen yet (another process signed it in,
      // or this one restarted): one read of its record.
      runtime.session.load(session).then((tokens) => {
        if (tokens) return withTokens(req, res, next, tokens);
        // Ended (signed out elsewhere) or gone: signed out, as when a check finds it ended.
        return endSignIn(strategy.runtime, req, { revoke: false, mark: false, reason: 'ended_elsewhere' }).then(() => {
          if (req.method === 'POST' && requestPath(req) === runtime.settings.signOutPath) return next();
          answerSignedOut(req, res, runtime.settings.signInPath);
        });
      }).catch((err: unknown) => onRedisDown(req, res, next, undefined, err));
      return;
    }
    withTokens(req, res, next, current);
  };

  const withTokens = (req: Request, res: Response, next: NextFunction, current: StoredTokenSet): void => {
    const runtime = strategy.runtime;
    // Signing out must work while Space is away: never renew for the sign-out route.
    if (req.method === 'POST' && requestPath(req) === runtime.settings.signOutPath) {
      req.spaceTokens = runtime.view(current);
      return next();
    }
    const now = Date.now();
    if (runtime.clock.tried && isFresh(current, runtime.settings.skew, runtime.clock.now()) && runtime.knownAlive(current, now)) {
      req.spaceTokens = runtime.view(current);
      touchSession(runtime, req, current);
      return next();
    }
    decide(req, current).then((answer) => {
      if (answer.kind === 'next') return touchSession(runtime, req, current), next();
      if (answer.kind === 'ended') return answerSignedOut(req, res, runtime.settings.signInPath);
      answerUnavailable(req, res, answer.what, answer.retryAfter);
    }).catch((err: unknown) => onRedisDown(req, res, next, current, err));
  };
  return middleware;
}

/**
 * Renews now (even a token that looks fresh: Space said it expired) and returns the new
 * tokens; signs the user out and throws {@link SpaceSessionEndedError} when that is over.
 */
export async function renewNow(runtime: SpaceRuntime, req: Request): Promise<SpaceTokenSet> {
  const current = await runtime.session.load(sessionOf(req));
  if (!current) throw new SpaceSessionEndedError('Not signed in with Space');
  const outcome = await runtime.engine.renew(current, true, runtime.recordTTL(req));
  if (outcome.kind === 'fresh') {
    runtime.session.write(sessionOf(req)!, outcome.tokens);
    req.spaceTokens = runtime.view(outcome.tokens);
    return req.spaceTokens;
  }
  if (outcome.kind === 'ended') {
    await endSignIn(runtime, req, { revoke: false, mark: outcome.reason === 'no_refresh_token', reason: outcome.reason });
    throw new SpaceSessionEndedError('The Space sign-in has ended; sign in again');
  }
  throw new SpaceTokenError(`Could not renew the Space access token (${outcome.reason})`, { code: 'SPACE_UNAVAILABLE', retryAfter: outcome.retryAfter });
}

export { RedisUnavailableError, SpaceSessionEndedError };
