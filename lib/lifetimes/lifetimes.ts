import type { NextFunction, Request, Response } from 'express';
import { isRedisOutage, PER_PROCESS_MAX, trimOldest } from '../core';
import { READ_LIFE, TOUCH_LIFE } from '../store';
import { endSignIn, type SpaceRuntime } from '../runtime';
import { sessionOf } from '../session';
import { answerSignedOut, answerUnavailable, requestPath } from '../web';

/**
 * Session lifetimes (the shared settings `idleTimeout` and `absoluteTimeout`): a sign-in not used
 * for `idleTimeout`, or older than `absoluteTimeout`, ends, whatever the session cookie says.
 *
 * Every process sees the same start and last activity: they are kept beside the sign-in's record
 * (`<prefix>{<grant>}:life`, a hash `start`, `last`, in Redis's clock), written at sign-in. Each
 * process keeps what it read and the requests it served; it writes `last` at most once per tenth
 * of `idleTimeout` (once a minute without one, to keep the key alive), never per request, and it
 * reads Redis again only for a sign-in it has not seen yet, or one that looks idle from here (a
 * request on another process may have come since). So a sign-in ends between 90% and 100% of
 * `idleTimeout` after its last request, on whichever process sees it next.
 */

/** What this process knows of a sign-in's life, in Redis's clock. */
interface Life {
  start: number;
  /** The latest activity known here: read from Redis, or a request this process served. */
  last: number;
  /** When this process last wrote `last` to Redis. */
  written: number;
}

/** Why a sign-in's life is over, or that it is not. */
export type LifeVerdict = 'alive' | 'idle_timeout' | 'absolute_timeout';

/** The life key outlives the sign-in's record by this much, so a live sign-in never loses its start. */
const MARGIN = 300_000;
/** Without `idleTimeout`, `last` is written this often: only to keep the key as long-lived as the record. */
const KEEP_ALIVE_EVERY = 60_000;

const livesBy = new WeakMap<SpaceRuntime, Map<string, Life>>();
function livesOf(runtime: SpaceRuntime): Map<string, Life> {
  let lives = livesBy.get(runtime);
  if (!lives) livesBy.set(runtime, (lives = new Map()));
  return lives;
}

/** Latest last: the map holds the sign-ins used lately, bounded. */
function keep(runtime: SpaceRuntime, grant: string, life: Life): void {
  const lives = livesOf(runtime);
  lives.delete(grant);
  lives.set(grant, life);
  trimOldest(lives, PER_PROCESS_MAX);
}

/** True when either lifetime is set. */
export function lifetimesOn(runtime: SpaceRuntime): boolean {
  return runtime.settings.idleTimeout > 0 || runtime.settings.absoluteTimeout > 0;
}

function judge(runtime: SpaceRuntime, life: Life, now: number): LifeVerdict {
  const { idleTimeout: idle, absoluteTimeout: absolute } = runtime.settings;
  if (absolute > 0 && now - life.start >= absolute) return 'absolute_timeout';
  if (idle > 0 && now - life.last >= idle) return 'idle_timeout';
  return 'alive';
}

const ttlOf = (runtime: SpaceRuntime, req: Request) => Math.round(runtime.recordTTL(req)) + MARGIN;

/** Reads the sign-in's life from Redis (made now if it has none: a sign-in from before lifetimes were on). */
async function read(runtime: SpaceRuntime, req: Request, grant: string, now: number): Promise<Life> {
  const [start, last] = ((await runtime.kv.run(READ_LIFE, [runtime.keys.life(grant)], [Math.round(now), ttlOf(runtime, req)])) as Array<string | number>).map(Number);
  const known = livesOf(runtime).get(grant);
  return { start: start!, last: Math.max(last!, known?.last ?? 0), written: known?.written ?? (start === Math.round(now) ? now : 0) };
}

/** A request of this sign-in was served now: noted here, and in Redis at most once per interval. */
function used(runtime: SpaceRuntime, req: Request, grant: string, life: Life, now: number): void {
  const idle = runtime.settings.idleTimeout;
  const every = idle > 0 ? Math.max(100, idle / 10) : KEEP_ALIVE_EVERY;
  life.last = Math.max(life.last, now);
  if (now - life.written >= every) {
    life.written = now;
    // Best effort: a lost write can only end the sign-in early by one interval, never keep it alive.
    runtime.kv.run(TOUCH_LIFE, [runtime.keys.life(grant)], [Math.round(now), ttlOf(runtime, req)]).catch(() => { life.written = 0; });
  }
  keep(runtime, grant, life);
}

/**
 * At sign-in, before the callback answers: the sign-in's start and first activity, where every
 * process reads them. Nothing is written when neither lifetime is set. Redis errors are thrown.
 */
export async function startLife(runtime: SpaceRuntime, req: Request, grant: string): Promise<void> {
  if (!lifetimesOn(runtime)) return;
  const now = runtime.clock.now();
  const life = await read(runtime, req, grant, now);
  keep(runtime, grant, { ...life, written: now });
}

/**
 * For spaceTokenRefresh: lets a request of a sign-in whose life is not over on to `serve`; a sign-in
 * past `idleTimeout` or `absoluteTimeout` ends (marked ended in Redis, so every process refuses it;
 * its refresh token revoked at Space while its access token works, best effort; a `session.ended`
 * event with the reason) and the member is answered as any signed-out member: a page is sent to
 * sign in again and come back, an API request gets 401 JSON. The sign-out route is never held up.
 * With Redis away, a sign-in this process cannot judge is let through (the request meets the
 * outage where it needs Redis next).
 */
export function guardLifetimes(runtime: SpaceRuntime, req: Request, res: Response, next: NextFunction, serve: () => void): void {
  if (!lifetimesOn(runtime)) return serve();
  const grant = runtime.session.grantOf(sessionOf(req));
  if (!grant || (req.method === 'POST' && requestPath(req) === runtime.settings.signOutPath)) return serve();
  const now = runtime.clock.now();
  const known = livesOf(runtime).get(grant);
  const first = known ? judge(runtime, known, now) : undefined;
  if (known && first === 'alive') return used(runtime, req, grant, known, now), serve();
  if (first === 'absolute_timeout') return end(runtime, req, res, next, grant, first);
  // Not seen here yet, or idle as far as this process knows: ask Redis (another process may have served it since).
  read(runtime, req, grant, now).then((life) => {
    const verdict = judge(runtime, life, now);
    if (verdict === 'alive') return used(runtime, req, grant, life, now), serve();
    end(runtime, req, res, next, grant, verdict);
  }, (err: unknown) => {
    if (!isRedisOutage(err)) return next(err);
    runtime.emit({ event: 'redis.unavailable', reason: 'session_lifetime', message: err instanceof Error ? err.message : String(err) });
    serve();
  });
}

function end(runtime: SpaceRuntime, req: Request, res: Response, next: NextFunction, grant: string, reason: Exclude<LifeVerdict, 'alive'>): void {
  // Revoked at Space only when due: the member's last sign-in (their consent), or a sign-in with
  // a refresh token of its own; never with this browser's token while others renew.
  endSignIn(runtime, req, { revoke: true, revokeTimeout: 3000, mark: true, reason }).then(() => {
    livesOf(runtime).delete(grant);
    answerSignedOut(req, res, runtime.settings.signInPath);
  }, (err: unknown) => {
    if (!isRedisOutage(err)) return next(err);
    answerUnavailable(req, res, 'store');
  });
}
