import { performance } from 'node:perf_hooks';
import { isSpaceError } from '../core';
import { listening, type OperationMessage, type OperationName, tracingChannels } from './channels';
import { type AttributeValue, type Attributes, instruments, otel, SPAN_KIND, STATUS_ERROR, tracer } from './otel';

/**
 * One traced operation's handle: what the operation adds to its span (and to its tracing
 * channel's message) as it learns it. Attribute values are never a token, a code, a session id or
 * a secret: grants appear as their 12-character fingerprint, as in events.
 */
export interface Operation {
  /**
   * False when nobody observes (no OpenTelemetry, no subscriber): `set` then does nothing, and a
   * caller skips computing an attribute (a fingerprint) that nobody would read.
   */
  readonly on: boolean;
  set(key: string, value: AttributeValue | undefined): void;
}

/** The one handle every unobserved operation gets: no object is made per call. */
const OFF: Operation = Object.freeze({ on: false, set: () => undefined });

class LiveOperation implements Operation {
  readonly on = true;
  readonly attributes: Attributes = {};
  readonly startedAt = performance.now();

  set(key: string, value: AttributeValue | undefined): void {
    if (value !== undefined) this.attributes[key] = value;
  }
}

/** What names an error in an attribute: its stable code, else its class name; never its message. */
export function errorType(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code !== '') return code.slice(0, 64);
  return err instanceof Error ? err.name : 'Error';
}

/** Metrics that follow from how an operation ended (docs/operations.md#metrics). */
function measure(name: OperationName, op: LiveOperation, err: unknown): void {
  const meters = instruments();
  if (!meters) return;
  const a = op.attributes;
  if (name === 'signin.callback' && err !== undefined) {
    meters.signIns.add(1, { 'space.outcome': 'failed', 'space.reason': errorType(err) });
  } else if (name === 'renewal') {
    const outcome = err === undefined ? a['space.outcome'] ?? 'unknown' : 'error';
    const reason = err === undefined ? a['space.reason'] : errorType(err);
    meters.renewals.add(1, reason === undefined ? { 'space.outcome': outcome } : { 'space.outcome': outcome, 'space.reason': reason });
  } else if (name === 'space.token') {
    const attributes: Attributes = { 'space.grant_type': a['space.grant_type'] ?? 'unknown', 'space.outcome': err === undefined ? 'ok' : errorType(err) };
    if (a['http.response.status_code'] !== undefined) attributes['http.response.status_code'] = a['http.response.status_code'];
    meters.tokenDuration.record((performance.now() - op.startedAt) / 1000, attributes);
  }
}

/**
 * Runs one operation: as an OpenTelemetry span (a child of the active one, active for what `run`
 * does, so calls to Space and nested operations link to it) when `@opentelemetry/api` is there,
 * and through its tracing channel when someone subscribed. Otherwise `run` is simply called, with
 * the shared inert handle: no span, no message, no handle made. `describe` adds what the result
 * says (an outcome) before the span ends. Telemetry never changes the result or the error.
 */
export function traced<T>(name: OperationName, run: (op: Operation) => Promise<T>, describe?: (result: T, op: Operation) => void, client = false): Promise<T> {
  const o = otel();
  const channel = tracingChannels[name];
  const subscribed = listening(channel);
  if (!o && !subscribed) {
    try {
      return run(OFF);
    } catch (err) {
      // As an async function would: a throw becomes a rejection.
      return Promise.reject(err);
    }
  }
  const op = new LiveOperation();
  let result: T;
  const parent = o?.context.active();
  const span = o ? tracer(o).startSpan(name, { kind: client ? SPAN_KIND.client : SPAN_KIND.internal }, parent) : undefined;
  const work = async (): Promise<void> => {
    try {
      result = await (o && span ? o.context.with(o.trace.setSpan(parent, span), () => run(op)) : run(op));
    } catch (err) {
      op.set('error.type', errorType(err));
      if (isSpaceError(err)) {
        op.set('http.response.status_code', err.status);
        op.set('space.error', err.error);
      }
      throw err;
    }
    try {
      describe?.(result, op);
    } catch {
      // Telemetry never breaks a request.
    }
  };
  // The channel's message carries the attributes, never the result (a renewal's holds tokens).
  const message: OperationMessage = { operation: name, attributes: op.attributes };
  const done = subscribed ? channel.tracePromise(work, message) : work();
  const end = (err: unknown): void => {
    try {
      if (span) {
        span.setAttributes(op.attributes);
        if (err !== undefined) span.setStatus({ code: STATUS_ERROR, message: errorType(err) });
        span.end();
      }
      if (o) measure(name, op, err);
    } catch {
      // Telemetry never breaks a request.
    }
  };
  return done.then(() => {
    end(undefined);
    return result;
  }, (err: unknown) => {
    end(err);
    throw err;
  });
}
