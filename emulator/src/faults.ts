/**
 * Fault injection: per-request canned answers, delays, hangs, resets and slow ("drip") bodies.
 *
 * The test catalog (SECURITY.md "Fake Space", §1 G) needs every answer to be
 * programmable per test: status, headers, body, delay, one-byte-per-second drip, connection
 * reset, oversize body. Faults are matched in the order they were injected; the first one that
 * matches and has uses left applies, and uses one up.
 */
import { bodyReply, type Reply } from './reply.js';

/**
 * A fault applied to matching requests.
 *
 * Order of effects: wait `delayMs`; then `reset` or `hang` if set; otherwise answer with the
 * canned `status`/`headers`/`body`, or handle the request normally when no `status` is given;
 * the answer's body is sent at `dripBytesPerSecond` if set. A canned answer replaces the handler,
 * so it has no side effects (a code is not consumed, a refresh token not rotated).
 */
export interface SpaceEmulatorFault {
  /** Exact request path without query, e.g. `'/oauth/token'`, `'/api/http/team-directory/profiles/me'`. */
  path: string;
  /** Only requests with this method (case-insensitive). */
  method?: string;
  /** Only token requests whose form body has this `grant_type`. */
  grantType?: string;
  /** How many requests it applies to; default unlimited. */
  times?: number;
  /** Wait this long before answering (or before resetting / hanging). */
  delayMs?: number;
  /** Canned answer status; without it the request is handled normally (after any delay). */
  status?: number;
  /** Canned answer headers; with an object `body` the default content type is JSON. */
  headers?: Record<string, string>;
  /** Canned answer body; an object is sent as JSON. */
  body?: string | object;
  /** Never answer; the socket stays open until the client gives up or the emulator closes. */
  hang?: boolean;
  /** Destroy the socket without an answer. */
  reset?: boolean;
  /** Send the (canned or normal) body at this many bytes per second. */
  dripBytesPerSecond?: number;
}

function invalid(field: string, expected: string): never {
  throw new TypeError(`SpaceEmulator.inject: "${field}" must be ${expected}`);
}

function checkFault(fault: SpaceEmulatorFault): SpaceEmulatorFault {
  if (typeof fault !== 'object' || fault === null) invalid('fault', 'an object');
  if (typeof fault.path !== 'string' || !fault.path.startsWith('/')) invalid('path', 'a path starting with "/"');
  if (fault.method !== undefined && typeof fault.method !== 'string') invalid('method', 'a string');
  if (fault.grantType !== undefined && typeof fault.grantType !== 'string') invalid('grantType', 'a string');
  if (fault.times !== undefined && (!Number.isInteger(fault.times) || fault.times < 1)) invalid('times', 'a positive integer');
  if (fault.delayMs !== undefined && (!Number.isFinite(fault.delayMs) || fault.delayMs < 0)) invalid('delayMs', 'a non-negative number');
  if (fault.status !== undefined && (!Number.isInteger(fault.status) || fault.status < 200 || fault.status > 599)) {
    invalid('status', 'an HTTP status from 200 to 599');
  }
  if (fault.body !== undefined && fault.status === undefined) invalid('status', 'set when "body" is set');
  if (fault.dripBytesPerSecond !== undefined && (!Number.isFinite(fault.dripBytesPerSecond) || fault.dripBytesPerSecond <= 0)) {
    invalid('dripBytesPerSecond', 'a positive number');
  }
  if (fault.hang && fault.reset) invalid('hang', 'not combined with "reset"');
  return { ...fault, headers: fault.headers ? { ...fault.headers } : undefined };
}

interface ActiveFault {
  fault: SpaceEmulatorFault;
  remaining: number;
}

/** The ordered list of injected faults. */
export class FaultList {
  private faults: ActiveFault[] = [];

  /** Adds a fault after the existing ones; throws a TypeError for a malformed fault. */
  inject(fault: SpaceEmulatorFault): void {
    const checked = checkFault(fault);
    this.faults.push({ fault: checked, remaining: checked.times ?? Number.POSITIVE_INFINITY });
  }

  /** Removes every fault. */
  clear(): void {
    this.faults = [];
  }

  /** Finds the first fault for this request and uses it up once. */
  take(method: string, path: string, grantType: string | undefined): SpaceEmulatorFault | undefined {
    const found = this.faults.find(
      ({ fault, remaining }) =>
        remaining > 0 &&
        fault.path === path &&
        (fault.method === undefined || fault.method.toUpperCase() === method.toUpperCase()) &&
        (fault.grantType === undefined || fault.grantType === grantType),
    );
    if (!found) return undefined;
    found.remaining -= 1;
    if (found.remaining === 0) this.faults = this.faults.filter((f) => f !== found);
    return found.fault;
  }
}

/** The canned answer of a fault that has a `status`. A `Content-Type` in `headers` wins over the default. */
export function cannedReply(fault: SpaceEmulatorFault & { status: number }): Reply {
  const entries = Object.entries(fault.headers ?? {});
  const isType = ([name]: [string, string]): boolean => name.toLowerCase() === 'content-type';
  const givenType = entries.find(isType)?.[1];
  const headers = Object.fromEntries(entries.filter((e) => !isType(e)));
  const text = 'text/plain; charset=utf-8';
  if (fault.body === undefined) return bodyReply(fault.status, givenType ?? text, '', headers);
  if (typeof fault.body === 'string') return bodyReply(fault.status, givenType ?? text, fault.body, headers);
  return bodyReply(fault.status, givenType ?? 'application/json; charset=utf-8', JSON.stringify(fault.body), headers);
}
