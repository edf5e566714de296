import type { ErrorRequestHandler } from 'express';
import { SpaceAuthorizationError, isSpaceError } from './errors';
import { SpaceSessionEndedError } from './refresh';
import { answerSignedOut, sendError } from './respond';
import { safeReturnTo } from './return-to';
import { RedisUnavailableError } from './token-store';

/**
 * ioredis's failures while Redis is down or hung, as connect-redis passes them through
 * express-session: no offline queue, retries used up, command timeout, closed connection.
 */
export function isRedisOutage(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  return /Stream isn't writeable|enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT/.test(err.message);
}

/**
 * An Express error handler for what this library and its session store can throw:
 * Redis down → 503 with `Retry-After` (never a sign-out); Space down or slow → 503; Space
 * refusing or answering nonsense → 502; a refused sign-in → 400; an ended sign-in → sent to
 * sign in again (401 JSON for API requests).
 * JSON for API requests, a short page otherwise; no stack, no Space body, no token.
 * Anything else goes on to your own error handler. Mount it after your routes.
 */
export interface SpaceErrorHandlerOptions {
  /** Where a browser whose sign-in has ended goes (`?returnTo=` added). Default `'/auth/space'`. */
  signInURL?: string;
}

export function spaceErrorHandler(options: SpaceErrorHandlerOptions = {}): ErrorRequestHandler {
  const signInURL = options.signInURL ?? '/auth/space';
  if (safeReturnTo(signInURL) === undefined) {
    throw new TypeError(`spaceErrorHandler option "signInURL" must be a local path like "/auth/space", got ${JSON.stringify(signInURL)}`);
  }
  return function spaceErrorHandlerMiddleware(err, req, res, next) {
    if (res.headersSent) return next(err);
    if (isRedisOutage(err)) {
      return sendError(req, res, 503, 'temporarily_unavailable', 'The session store is not answering right now; try again shortly', { headers: { 'Retry-After': '2' } });
    }
    if (err instanceof SpaceSessionEndedError) return answerSignedOut(req, res, signInURL);
    if (err instanceof SpaceAuthorizationError) {
      return sendError(req, res, 400, 'sign_in_failed', 'Space did not complete the sign-in; please try again');
    }
    if (isSpaceError(err)) {
      if (err.transient) {
        return sendError(req, res, err.code === 'SPACE_TIMEOUT' ? 504 : 503, 'temporarily_unavailable', 'Space is not answering right now; try again shortly',
          { headers: { 'Retry-After': String(err.retryAfter ?? 5) } });
      }
      return sendError(req, res, 502, 'bad_gateway', 'Space refused the request or answered something unexpected');
    }
    return next(err);
  };
}
