import type { ErrorRequestHandler, Request } from 'express';
import { runtimeOf } from '../runtime';
import { debugOf, explainOffline, isRedisOutage, isSpaceError, localPath, onlyKnown, scrubRedisError, SpaceAuthorizationError, SpaceSessionEndedError } from '../core';
import { answerSignedOut, answerSignInFailed, answerUnavailable, sendError } from './respond';
import { signInRefusalOf } from './refusal';
import { countUnavailable } from '../telemetry';

export { isRedisOutage } from '../core';

/** Options of {@link spaceErrorHandler}. */
export interface SpaceErrorHandlerOptions {
  /** Where a browser whose sign-in has ended goes (`?returnTo=` added). Default: the strategy's `signInPath`. */
  signInURL?: string;
  /**
   * Called with every error this handler answers, after it is scrubbed (no token, code or
   * session content in it), and the status it answered: for your logger.
   */
  onError?: (err: unknown, info: { status: number; req: Request }) => void;
}

/** Every option name spaceErrorHandler accepts; any other is a TypeError. */
export const ERROR_HANDLER_OPTION_NAMES = ['signInURL', 'onError'] as const;

/**
 * An Express error handler for what this library and its session store can throw: Redis
 * away (down, hung, or refusing for now: OOM, READONLY, LOADING, MISCONF, BUSY, NOAUTH, a
 * cluster failing over) → 503 with `Retry-After` (never a sign-out); Space away or slow → 503/504; Space
 * refusing or answering nonsense → 502; a refused or incomplete sign-in → 400 (a callback refused
 * through Passport's `failWithError` → its own status and reason); an ended
 * sign-in → sent to sign in again (401 JSON for API requests). JSON for API requests, a
 * short page otherwise; no stack, no Space body, no token. Anything else goes on to your own
 * error handler. Mount it after your routes.
 */
export function spaceErrorHandler(options: SpaceErrorHandlerOptions = {}): ErrorRequestHandler {
  onlyKnown('spaceErrorHandler', options, ERROR_HANDLER_OPTION_NAMES);
  const configured = localPath('spaceErrorHandler', 'signInURL', options.signInURL);
  const log = debugOf('error');
  const report = (err: unknown, status: number, req: Request) => {
    if (log.enabled) log(`${req.method} answered ${status}: ${err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]}` : String(err)}`);
    try {
      options.onError?.(err, { status, req });
    } catch {
      // A logger must never break a request.
    }
  };
  return function spaceErrorHandlerMiddleware(err, req, res, next) {
    // Whatever this handler answers or hands on, a Redis error leaves it without the command's
    // arguments (session ids, session contents): your handlers and loggers never see them.
    scrubRedisError(err);
    if (res.headersSent) return next(err);
    const signInURL = configured ?? runtimeOf(req)?.settings.signInPath ?? '/auth/space';
    if (isRedisOutage(err)) {
      explainOffline(err, runtimeOf(req)?.settings.redis);
      report(err, 503, req);
      return answerUnavailable(req, res, 'store');
    }
    if (err instanceof SyntaxError && (req as { session?: unknown }).session === undefined) {
      // A session value express-session could not read, met before the store guard was in
      // place: delete it, so the next request is simply anonymous.
      const store = (req as { sessionStore?: { destroy?: (sid: string, cb: () => void) => void } }).sessionStore;
      const sid = (req as { sessionID?: string }).sessionID;
      if (store?.destroy && sid) store.destroy(sid, () => undefined);
      report(err, 400, req);
      return sendError(req, res, 400, 'session_reset', 'Your session could not be read and was reset; please try again', { link: { href: signInURL, text: 'Sign in with Space' } });
    }
    if (err instanceof SpaceSessionEndedError) {
      report(err, 401, req);
      return answerSignedOut(req, res, signInURL);
    }
    // Passport's failWithError: the sign-in this library refused, with the reason it refused it.
    const refusal = err instanceof Error && err.name === 'AuthenticationError' ? signInRefusalOf(req) : undefined;
    if (refusal) {
      report(err, refusal.status, req);
      return answerSignInFailed(req, res, refusal.status, refusal.message, signInURL);
    }
    if (err instanceof SpaceAuthorizationError) {
      report(err, 400, req);
      return sendError(req, res, 400, 'sign_in_failed', 'Space did not complete the sign-in; please try again', { link: { href: signInURL, text: 'Sign in with Space' } });
    }
    if (isSpaceError(err)) {
      if (err.transient) {
        const status = err.code === 'SPACE_TIMEOUT' ? 504 : 503;
        report(err, status, req);
        countUnavailable('space', status);
        return sendError(req, res, status, 'temporarily_unavailable', 'Space is not answering right now; try again shortly',
          { headers: { 'Retry-After': String(Math.min(err.retryAfter ?? 5, 60)) } });
      }
      report(err, 502, req);
      return sendError(req, res, 502, 'bad_gateway', `Space refused the request or answered something unexpected${err.status ? ` (${err.status}${err.error ? ` ${err.error}` : ''})` : ''}`);
    }
    return next(err);
  };
}
