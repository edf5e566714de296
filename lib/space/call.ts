import { isRecord, SpaceError, type SpaceErrorCode, type SpaceErrorDetails } from '../core';
import { type AnswerHeaders, NotResentError, SpaceAgents, send } from './transport';

type SpaceErrorClass = new (message: string, details: SpaceErrorDetails) => SpaceError;

/** One outbound call to Space. */
export interface SpaceCall {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** Milliseconds for the whole call, headers and body. */
  timeout: number;
  /** What is being called, for messages: "Space token endpoint", "Space profile API". */
  what: string;
  /** The error class to raise. */
  errorClass: SpaceErrorClass;
  /** Values sent in this call that must never come back in a message (Space may echo them). */
  secrets?: ReadonlyArray<string | undefined>;
  /** Largest body accepted; bigger answers are refused rather than buffered. */
  maxBytes?: number;
  /** Aborts the call early (the caller gave up). */
  signal?: AbortSignal | undefined;
  /** The caller's keep-alive agents (one set per SpaceClient); a shared set when left out. */
  agents?: SpaceAgents | undefined;
}

export interface SpaceAnswer {
  status: number;
  headers: AnswerHeaders;
  text: string;
}

const DEFAULT_MAX_BYTES = 1024 * 1024;
/** For calls made without a client's own agents. */
const sharedAgents = new SpaceAgents();

/** The URL as it may appear in a message: origin and path, never the query. */
export function describeURL(url: URL): string {
  return url.origin + url.pathname;
}

/**
 * Calls Space with a hard timeout that covers the body too (one timer for the whole call),
 * without following redirects (a redirect from an OAuth endpoint is an error, not a success:
 * node-oauth got that wrong), and with a cap on the body size, enforced while it streams.
 * Every failure becomes a typed error whose message names the endpoint and what went wrong.
 */
export async function callSpace(call: SpaceCall): Promise<SpaceAnswer> {
  const where = `${call.method} ${describeURL(call.url)}`;
  const maxBytes = call.maxBytes ?? DEFAULT_MAX_BYTES;
  const fail = (code: SpaceErrorCode, message: string, extra: Partial<SpaceErrorDetails> = {}): SpaceError =>
    new call.errorClass(message, { code, ...extra });
  if (call.signal?.aborted) throw fail('SPACE_UNREACHABLE', `${call.what} call was aborted (${where})`, { cause: call.signal.reason });

  let cancel: ((reason: Error) => void) | undefined;
  let ended: 'timeout' | 'aborted' | undefined;
  const timer = setTimeout(() => {
    ended = 'timeout';
    cancel?.(new Error(`timed out after ${call.timeout} ms`));
  }, call.timeout);
  timer.unref();
  const onAbort = (): void => {
    ended ??= 'aborted';
    cancel?.(new Error('aborted'));
  };
  call.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const answer = await send({
      method: call.method, url: call.url, headers: call.headers, body: call.body, maxBytes,
      agent: (call.agents ?? sharedAgents).for(call.url),
      stop: (listener) => { cancel = listener; },
    });
    if (answer.text === undefined) {
      throw fail('SPACE_INVALID_RESPONSE', `${call.what} answered ${answer.status} with a body larger than ${maxBytes} bytes (${where})`, { status: answer.status });
    }
    return answer as SpaceAnswer;
  } catch (err) {
    if (err instanceof SpaceError) throw err;
    if (ended === 'timeout') {
      throw fail('SPACE_TIMEOUT', `${call.what} did not answer within ${call.timeout} ms (${where})`, { cause: err });
    }
    if (ended === 'aborted') {
      throw fail('SPACE_UNREACHABLE', `${call.what} call was aborted (${where})`, { cause: err });
    }
    if (err instanceof NotResentError) {
      throw fail('SPACE_UNREACHABLE', `${call.what} closed a reused connection without answering (${err.code}); the request was not sent again, as Space may already have processed it (${where})`, { cause: err });
    }
    const reason = networkReason(err);
    throw fail('SPACE_UNREACHABLE', `Could not reach ${call.what}: ${reason} (${where})`, { cause: err });
  } finally {
    clearTimeout(timer);
    call.signal?.removeEventListener('abort', onAbort);
  }
}

function networkReason(err: unknown): string {
  const own = (err as { code?: unknown } | undefined)?.code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  // A TLS error may quote what the server presented (its certificate's names): outside text.
  if (cause && typeof cause.message === 'string') return cleanText(cause.message, [], 200)!;
  return cleanText(err instanceof Error ? err.message : String(err), [], 200)!;
}

/** Parses a JSON body, or returns undefined. Never throws, never pollutes prototypes. */
export function parseJSON(text: string): unknown {
  try {
    // A reviver runs for every value: pay for it only when the text could hold the key
    // (spelled out, or with \u escapes).
    if (!text.includes('__proto__') && !text.includes('\\u')) return JSON.parse(text);
    return JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value));
  } catch {
    return undefined;
  }
}

export { isRecord } from '../core';

/** `Retry-After` as seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/**
 * Characters that can forge or hide a log line: C0 controls (CR, LF, ESC for terminal
 * sequences...), DEL, C1 controls (NEL among them), the Unicode line and paragraph separators,
 * and the bidirectional overrides that make text display in another order than it reads.
 */
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g;

/**
 * The one sanitizer for text from outside (Space's answers, the sign-in callback's query): it
 * is applied where such text enters the library, so every message, event and log line built
 * from it afterwards is one printable line. Control and line-breaking characters become a
 * space, anything we sent (`secrets`) is redacted, and the result is cut at `max` characters.
 * Undefined for a value that is not a string.
 */
export function cleanText(text: unknown, secrets: ReadonlyArray<string | undefined> = [], max = 300): string | undefined {
  if (typeof text !== 'string') return undefined;
  // Cut a generous slice first, so a hostile megabyte is never scanned whole.
  let out = text.slice(0, max * 4 + 64).replace(UNSAFE_TEXT, ' ').trim();
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.length > max ? `${out.slice(0, max)}…` : out;
}

/**
 * Turns a non-2xx answer into a typed error with Space's `error` and `error_description`.
 * The raw body is never quoted: only the two documented fields are (RFC 6749 §5.2, and
 * Space's API errors use the same names).
 */
export function answerError(call: SpaceCall, answer: SpaceAnswer): SpaceError {
  const body = parseJSON(answer.text);
  const error = isRecord(body) ? cleanText(body.error, call.secrets) : undefined;
  const errorDescription = isRecord(body) ? cleanText(body.error_description, call.secrets) : undefined;
  const retryAfter = parseRetryAfter(answer.headers.get('retry-after'));
  const unavailable = answer.status >= 500 || answer.status === 429;
  const code: SpaceErrorCode = answer.status >= 300 && answer.status < 400
    ? 'SPACE_INVALID_RESPONSE'
    : unavailable ? 'SPACE_UNAVAILABLE' : 'SPACE_REJECTED';
  let message = `${call.what} answered ${answer.status}`;
  if (code === 'SPACE_INVALID_RESPONSE') message += ' (a redirect, not an answer)';
  if (error) message += ` ${error}`;
  if (errorDescription) message += `: "${errorDescription}"`;
  if (!error && !errorDescription && code !== 'SPACE_INVALID_RESPONSE') message += ' with no error details';
  message += ` (${call.method} ${describeURL(call.url)})`;
  return new call.errorClass(message, { code, error, errorDescription, status: answer.status, retryAfter });
}
