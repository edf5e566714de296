import type { ErrorRequestHandler } from 'express';
import { SpaceAuthorizationError, isSpaceError } from './errors';
import { SpaceSessionEndedError } from './refresh';
import { sendError } from './respond';
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
 * refusing or answering nonsense → 502; a refused sign-in → 400; an ended sign-in → 401.
 * JSON for API requests, a short page otherwise; no stack, no Space body, no token.
 * Anything else goes on to your own error handler. Mount it after your routes.
 */
export function spaceErrorHandler(): ErrorRequestHandler {
  return function spaceErrorHandlerMiddleware(err, req, res, next) {
    if (res.headersSent) return next(err);
    if (isRedisOutage(err)) {
      return sendError(req, res, 503, 'temporarily_unavailable', 'The session store is not answering right now; try again shortly', { 'Retry-After': '2' });
    }
    if (err instanceof SpaceSessionEndedError) {
      return sendError(req, res, 401, 'unauthenticated', 'Your Space sign-in has ended; sign in again');
    }
    if (err instanceof SpaceAuthorizationError) {
      return sendError(req, res, 400, 'sign_in_failed', 'Space did not complete the sign-in; please try again');
    }
    if (isSpaceError(err)) {
      if (err.transient) {
        return sendError(req, res, err.code === 'SPACE_TIMEOUT' ? 504 : 503, 'temporarily_unavailable', 'Space is not answering right now; try again shortly',
          { 'Retry-After': String(err.retryAfter ?? 5) });
      }
      return sendError(req, res, 502, 'bad_gateway', 'Space refused the request or answered something unexpected');
    }
    return next(err);
  };
}
