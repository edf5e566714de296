/**
 * Error classes, one per place a failure can come from: the authorization redirect,
 * the token endpoint, and Space's HTTP API. Each carries a stable `code`, Space's own
 * `error` / `error_description` when Space sent them, Space's HTTP `status`, and the
 * underlying `cause`. Messages say what happened and never contain a secret: no token,
 * code, verifier, client secret or query string is ever put into one.
 */

/** Stable codes, safe to switch on. */
export type SpaceErrorCode =
  /** Space redirected back with `?error=...` (other than `access_denied`). */
  | 'SPACE_AUTHORIZATION_FAILED'
  /** Space answered with an error (4xx, or an `error` body). */
  | 'SPACE_REJECTED'
  /** Space answered 5xx or 429: try again later. */
  | 'SPACE_UNAVAILABLE'
  /** Space did not answer within the configured timeout. */
  | 'SPACE_TIMEOUT'
  /** Space could not be reached (DNS, refused, reset, TLS). */
  | 'SPACE_UNREACHABLE'
  /** Space answered something that is not a valid response (bad JSON, missing fields, too large). */
  | 'SPACE_INVALID_RESPONSE';

export interface SpaceErrorDetails {
  code: SpaceErrorCode;
  /** Space's `error` field, e.g. `invalid_grant` or `authentication-required`. */
  error?: string | undefined;
  /** Space's `error_description` field. */
  errorDescription?: string | undefined;
  /** The HTTP status Space answered with. */
  status?: number | undefined;
  /** Seconds from a `Retry-After` header, when Space sent one. */
  retryAfter?: number | undefined;
  cause?: unknown;
}

/** Base class of every error this library raises about Space. */
export class SpaceError extends Error {
  readonly code: SpaceErrorCode;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly status: number | undefined;
  readonly retryAfter: number | undefined;

  constructor(message: string, details: SpaceErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.status = details.status;
    this.retryAfter = details.retryAfter;
  }

  /**
   * True when trying again later may succeed: Space was down, slow, rate limiting or
   * unreachable. False when Space said no, or answered nonsense.
   */
  get transient(): boolean {
    return this.code === 'SPACE_UNAVAILABLE' || this.code === 'SPACE_TIMEOUT' || this.code === 'SPACE_UNREACHABLE';
  }
}

/** Space sent the browser back with an error instead of a code. */
export class SpaceAuthorizationError extends SpaceError {}

/** The token endpoint (`/oauth/token`) failed: code exchange or refresh. */
export class SpaceTokenError extends SpaceError {
  /**
   * True when the refresh token (or code) is dead for good (`invalid_grant`, or Space's
   * API-style "Refresh token ... is revoked"): the user must sign in again.
   */
  get grantRevoked(): boolean {
    return this.error === 'invalid_grant';
  }
}

/** A call to Space's HTTP API (`/api/http/...`) failed. */
export class SpaceApiError extends SpaceError {}

/** True for any error raised by this library about Space. */
export function isSpaceError(value: unknown): value is SpaceError {
  return value instanceof SpaceError;
}

/**
 * Redis did not answer in time, or refused (down, out of memory, read-only, failing over).
 * Callers answer 503 with `Retry-After`, never sign anyone out. The message names the
 * command, never its arguments (which can hold tokens); there is no `cause` for that reason.
 */
export class RedisUnavailableError extends Error {
  readonly code = 'REDIS_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

/** The user can no longer be given a token: signed out, revoked at Space, or the session ended. */
export class SpaceSessionEndedError extends Error {
  readonly code = 'SPACE_SESSION_ENDED';
  readonly status = 401;
  constructor(message: string) {
    super(message);
    this.name = 'SpaceSessionEndedError';
  }
}

/**
 * Redis failures that mean "away for now", as a session store (connect-redis, through
 * express-session) or this library meets them: down, hung, out of memory, read-only, loading,
 * failing over, closed. ioredis and node-redis messages both.
 */
const UNAVAILABLE = /Stream isn't writeable|enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|^OOM |^READONLY|^LOADING|^MASTERDOWN|^CLUSTERDOWN|^TRYAGAIN|^MOVED|^ASK |Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|The client is closed|The client is offline|Socket closed unexpectedly|All sentinels are unreachable|NOREPLICAS/;

export function isRedisOutage(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  if (['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'ClientClosedError', 'ClientOfflineError', 'SocketClosedUnexpectedlyError', 'ConnectionTimeoutError'].includes(err.name)) return true;
  return UNAVAILABLE.test(err.message);
}

/**
 * Removes what a Redis client error may quote of the command it failed: ioredis's
 * `ReplyError` carries `command.args`, which for a session write is the whole session, tokens
 * included. Applied before the error reaches anyone's handler or logger.
 */
export function scrubRedisError<T>(err: T): T {
  if (err && typeof err === 'object') {
    const e = err as { command?: { name?: unknown; args?: unknown }; args?: unknown; previousErrors?: unknown[] };
    if (e.command && typeof e.command === 'object') e.command = { name: e.command.name };
    if ('args' in e) delete e.args;
    if (Array.isArray(e.previousErrors)) e.previousErrors.forEach(scrubRedisError);
  }
  return err;
}
