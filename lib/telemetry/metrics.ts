import type { SpaceTokenEvent } from '../core';
import { audit, type AuditHost } from './audit';
import { eventChannel, unavailableChannel } from './channels';
import { instruments } from './otel';
import type { Operation } from './trace';

/**
 * The metrics and channel messages that follow from what the library tells `onEvent`, and from
 * its 503 answers. Each function is a check and nothing more while nobody observes.
 */

/**
 * Wraps a runtime's event sink: each event also goes to the `event` channel, sign-in events count
 * sign-ins by outcome, and a renewal Space refused (`invalid_grant`, told once by the process that
 * asked, whoever was waiting) is the `refresh_refused` audit event.
 */
export function observeEvents(emit: (event: SpaceTokenEvent) => void, host?: AuditHost): (event: SpaceTokenEvent) => void {
  return (event) => {
    emit(event);
    try {
      if (eventChannel.hasSubscribers) eventChannel.publish(event);
      if (event.event === 'token.refresh_rejected') {
        audit(host, { type: 'refresh_refused', outcome: 'failure', reason: event.reason, grant: event.grant, error: event.error });
      }
      if (event.event !== 'signin.completed' && event.event !== 'signin.refused' && !(event.event === 'redis.unavailable' && event.reason === 'signin_callback')) return;
      const meters = instruments();
      if (!meters) return;
      if (event.event === 'signin.completed') meters.signIns.add(1, { 'space.outcome': 'completed' });
      else if (event.event === 'signin.refused') meters.signIns.add(1, { 'space.outcome': 'refused', 'space.reason': event.reason ?? 'unknown' });
      else meters.signIns.add(1, { 'space.outcome': 'failed', 'space.reason': 'REDIS_UNAVAILABLE' });
    } catch {
      // Telemetry never breaks a request.
    }
  };
}

/** Why a request was answered 503 (or 504): the store (Redis) or Space was away. */
export type UnavailableCause = 'redis' | 'space';

/** Counts one 503 (or 504) answer by its cause, and publishes it on the `unavailable` channel. */
export function countUnavailable(cause: UnavailableCause, status = 503): void {
  try {
    if (unavailableChannel.hasSubscribers) unavailableChannel.publish({ cause, status });
    instruments()?.unavailable.add(1, { 'space.cause': cause, 'http.response.status_code': status });
  } catch {
    // Telemetry never breaks a request.
  }
}

/** How many callers share each renewal in flight, while metrics are on. */
const sharers = new WeakMap<Promise<unknown>, number>();

/**
 * A renewal this process starts: returns the promise its callers share, which records, when it
 * settles, how many callers besides the first waited for it. Without OpenTelemetry it is the
 * renewal itself.
 */
export function trackRenewal<T>(renewal: Promise<T>): Promise<T> {
  const meters = instruments();
  if (!meters) return renewal;
  const shared: Promise<T> = renewal.finally(() => {
    try {
      meters.renewalWaiters.record((sharers.get(shared) ?? 1) - 1);
    } catch {
      // Telemetry never breaks a request.
    }
  });
  sharers.set(shared, 1);
  return shared;
}

/** Another caller joins a renewal in flight (from {@link trackRenewal}). */
export function joinRenewal(renewal: Promise<unknown>): void {
  const n = sharers.get(renewal);
  if (n !== undefined) sharers.set(renewal, n + 1);
}

/** A renewal's outcome on its span: `refreshed` (Space asked), `adopted` (newer tokens found), `ended` or `unavailable`, and why. */
export function describeRenewal(outcome: { kind: string; refreshed?: boolean; reason?: string }, op: Operation): void {
  op.set('space.outcome', outcome.kind === 'fresh' ? (outcome.refreshed ? 'refreshed' : 'adopted') : outcome.kind);
  op.set('space.reason', outcome.reason);
}
