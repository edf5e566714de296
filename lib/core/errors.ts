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
 * express-session) or this library meets them: down, hung, closed (the clients' own errors),
 * or a reply that refuses the command until the server recovers (the reply codes below, at the
 * start of the message or quoted inside a script's error). ioredis and node-redis messages both.
 */
const CLIENT_UNAVAILABLE = /Stream isn't writeable|enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available|The client is closed|The client is offline|Socket closed unexpectedly|All sentinels are unreachable/;

/**
 * Reply codes that mean the server cannot serve now, not that the command was wrong: out of
 * memory, a replica or a failing-over cluster, still loading its data, writes stopped after a
 * failed save (MISCONF), busy running a script or function (BUSY), authentication not (or no
 * longer) accepted on this connection (NOAUTH: a password rotated under a running app).
 */
export const OUTAGE_REPLIES = ['OOM', 'READONLY', 'LOADING', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'MOVED', 'ASK', 'MISCONF', 'BUSY', 'NOAUTH', 'NOREPLICAS'] as const;
const OUTAGE_REPLY = new RegExp(`(?:^|[\\s:]-)(?:${OUTAGE_REPLIES.join('|')})(?:\\s|$)`);

const CLIENT_ERRORS = ['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'ClientClosedError', 'ClientOfflineError', 'SocketClosedUnexpectedlyError', 'ConnectionTimeoutError'];

export function isRedisOutage(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  if (CLIENT_ERRORS.includes(err.name)) return true;
  return CLIENT_UNAVAILABLE.test(err.message) || OUTAGE_REPLY.test(err.message);
}

/**
 * Removes what a Redis client error may quote of the command it failed, or of the data it
 * read: ioredis's `ReplyError` carries `command.args` (for a session write, the whole session
 * with its tokens; for any session command, the session id in the key), a cluster error the
 * errors of each node, a protocol error the raw bytes read. Applied, once, wherever the library
 * hands on an error that may come from Redis (the session store guard, spaceErrorHandler), before
 * it reaches anyone's handler or logger. Other errors are left as they are.
 */
export function scrubRedisError<T>(err: T): T {
  scrub(err, 0);
  return err;
}

function scrub(err: unknown, depth: number): void {
  if (!err || typeof err !== 'object' || depth > 5) return;
  const e = err as { command?: unknown; args?: unknown; previousErrors?: unknown; lastNodeError?: unknown; cause?: unknown; buffer?: unknown; name?: unknown };
  const command = e.command as { name?: unknown; args?: unknown } | undefined;
  if (command && typeof command === 'object' && 'args' in command) e.command = { name: command.name };
  if ('args' in e && isRedisClientError(err)) delete e.args;
  if (e.name === 'ParserError' && 'buffer' in e) delete e.buffer;
  if (Array.isArray(e.previousErrors)) e.previousErrors.forEach((p) => scrub(p, depth + 1));
  scrub(e.lastNodeError, depth + 1);
  scrub(e.cause, depth + 1);
}

/** An error a Redis client made (ioredis, node-redis, their parser), by its shape or name. */
function isRedisClientError(err: object): boolean {
  const name = (err as { name?: unknown }).name;
  const command = (err as { command?: unknown }).command;
  return (typeof name === 'string' && /ReplyError|ErrorReply|RedisError|ParserError|AbortError|InterruptError|ClusterAllFailedError|MaxRetriesPerRequestError/.test(name))
    || (typeof command === 'object' && command !== null);
}
