import createDebug from 'debug';

/** Something worth knowing happened; never carries a token, a code or a session id. */
export interface SpaceTokenEvent {
  event:
    | 'token.refreshed' | 'token.adopted' | 'token.refresh_rejected' | 'token.refresh_failed' | 'token.no_refresh_token'
    | 'token.persist_failed' | 'token.persisted_late' | 'token.discarded' | 'token.lock_cleared' | 'redis.unavailable'
    | 'signin.started' | 'signin.completed' | 'signin.refused' | 'signout' | 'session.ended' | 'session.reset'
    | 'store.misconfigured' | 'ratelimit.exceeded' | 'space.event';
  /** A hash of the sign-in's grant id, to correlate lines; not a secret. */
  grant?: string;
  reason?: string;
  status?: number;
  error?: string;
  message?: string;
}

/** A `debug` logger, typed here so that no public type depends on @types/debug. */
type DebugFn = ((text: string) => void) & { enabled: boolean };
const debuggers = new Map<string, DebugFn>();

/** `DEBUG=passport-jetbrains-space:*` shows one line per decision (`:signin`, `:token`, `:redis`...). */
export function debugOf(area: string): DebugFn {
  let d = debuggers.get(area);
  if (!d) debuggers.set(area, (d = createDebug(`passport-jetbrains-space:${area}`) as unknown as DebugFn));
  return d;
}

function line(event: SpaceTokenEvent): string {
  const parts: string[] = [event.event];
  for (const key of ['grant', 'reason', 'status', 'error'] as const) if (event[key] !== undefined) parts.push(`${key}=${String(event[key])}`);
  if (event.message) parts.push(`- ${event.message}`);
  return parts.join(' ');
}

/** Sends an event to the app's `onEvent` (which may never break a request) and to `debug`. */
export function emitter(onEvent: ((event: SpaceTokenEvent) => void) | undefined): (event: SpaceTokenEvent) => void {
  return (event) => {
    const d = debugOf(event.event.split('.')[0]!);
    if (d.enabled) d(line(event));
    if (!onEvent) return;
    try {
      onEvent(event);
    } catch {
      // A logger must never break a request.
    }
  };
}

let warnedOffline = false;

/**
 * ioredis with `enableOfflineQueue: false` refuses commands until it has connected: a request
 * that comes in before that fails its session save. Say so once, in words an operator can act on.
 */
export function explainOffline(err: unknown): void {
  if (warnedOffline || !(err instanceof Error) || !/enableOfflineQueue|Stream isn't writeable/.test(err.message)) return;
  warnedOffline = true;
  process.emitWarning('Redis was not connected yet when a request came in (ioredis with enableOfflineQueue: false refuses commands until then). '
    + 'Connect before listening: create the client with lazyConnect: true and `await redis.connect()` before app.listen().', { code: 'PASSPORT_JETBRAINS_SPACE_REDIS_NOT_READY' });
}
