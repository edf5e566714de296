import createDebug from 'debug';

/** Something worth knowing happened; never carries a token, a code or a session id. */
export interface SpaceTokenEvent {
  event:
    | 'token.refreshed' | 'token.adopted' | 'token.refresh_rejected' | 'token.refresh_failed' | 'token.no_refresh_token'
    | 'token.persist_failed' | 'token.persisted_late' | 'token.discarded' | 'token.lock_cleared' | 'redis.unavailable'
    | 'signin.started' | 'signin.completed' | 'signin.refused' | 'signout' | 'session.ended' | 'session.reset'
    | 'store.misconfigured' | 'token.moved_to_consent' | 'consent.revoked' | 'ratelimit.exceeded' | 'space.event';
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

const warned = new Map<string, number>();

/**
 * One line on stderr (`console.warn`), for a mistake an operator must see without DEBUG: once per
 * process for a `key` (default: the code), or, with `every`, at most once per `every` ms. The
 * line starts with the library's name and ends with the code, e.g.
 * `passport-jetbrains-space: ... [PASSPORT_JETBRAINS_SPACE_REDIS_LOST]`. Every part warns through
 * this one function, so the rule (and the promise that no line carries a token, a code, a session
 * id or a secret) lives in one place. Returns true when the line was written.
 */
export function warnOnce(code: string, message: string, options: { every?: number; key?: string } = {}): boolean {
  const key = options.key ?? code;
  const now = Date.now();
  const last = warned.get(key);
  if (last !== undefined && (options.every === undefined || now - last < options.every)) return false;
  warned.delete(key);
  warned.set(key, now);
  // Keys are codes and short reasons: a handful. Bounded all the same.
  if (warned.size > 200) warned.delete(warned.keys().next().value as string);
  try {
    console.warn(`passport-jetbrains-space: ${message} [${code}]`);
  } catch {
    // A logger must never break a request.
  }
  return true;
}

/** Redis clients seen connected ("ready") at least once in this process. */
const connectedOnce = new WeakSet<object>();
const watched = new WeakSet<object>();
/** True once any watched client has connected: what is known when the failing client is not. */
let anyConnected = false;
const sawReady = (client: object): void => {
  connectedOnce.add(client);
  anyConnected = true;
};

type Watchable = { status?: unknown; isReady?: unknown; once?: (event: string, listener: () => void) => unknown };

/**
 * Starts watching a Redis client (ioredis or node-redis) for its first connection, so that a
 * later "not writeable" can be told apart: never connected (connect before listening) or
 * connected and then lost (Redis went away). Called where the library first meets the client.
 */
export function watchRedis(client: unknown): void {
  if (!client || typeof client !== 'object' || watched.has(client)) return;
  watched.add(client);
  const c = client as Watchable;
  if (c.status === 'ready' || c.isReady === true) sawReady(client);
  else if (typeof c.once === 'function') {
    try {
      c.once('ready', () => sawReady(client));
    } catch {
      // Not an event emitter after all: nothing to watch.
    }
  }
}

/**
 * ioredis with `enableOfflineQueue: false` refuses every command while it has no connection:
 * before it first connected (the app listened too early), and after Redis went away (until it
 * reconnects). `client`, the Redis client that failed when known, tells which; else whether any
 * client the library watches has connected (an app usually has one). The first case is said once
 * per process; the second at most once a minute, for as long as it lasts.
 */
export function explainOffline(err: unknown, client?: unknown): void {
  if (!(err instanceof Error) || !/enableOfflineQueue|Stream isn't writeable/.test(err.message)) return;
  if (client && typeof client === 'object' ? connectedOnce.has(client) : anyConnected) {
    warnOnce('PASSPORT_JETBRAINS_SPACE_REDIS_LOST', 'Redis has lost its connection (it was connected before; ioredis with enableOfflineQueue: false refuses commands until it reconnects). '
      + 'Requests get 503 with Retry-After meanwhile, and nobody is signed out. Check that Redis is running and reachable from this process.', { every: 60_000 });
    return;
  }
  warnOnce('PASSPORT_JETBRAINS_SPACE_REDIS_NOT_READY', 'Redis was not connected yet when a request came in (ioredis with enableOfflineQueue: false refuses commands until then). '
    + 'Connect before listening: create the client with lazyConnect: true and `await redis.connect()` before app.listen().');
}
