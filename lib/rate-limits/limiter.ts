import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { isRedisOutage, type SpaceTokenEvent } from '../core';
import { DEFAULT_RATE_LIMITS, type RateLimitedEndpoint, type RateLimits } from '../config';
import { COUNT_REQUEST, Keys, type KV, kvFor, PEEK_COUNT } from '../store';
import type { SpaceRuntime } from '../runtime';
import { sendError } from '../web';

/**
 * Rate limits (the shared setting `rateLimit`) of the sign-in start, the callback and
 * verifySpaceRequest: fixed-window counters in Redis, so every process adds to the same count.
 *
 * A counter is one key per endpoint, bucket and window (`<prefix>{rl:<endpoint>:<bucket>}:count`,
 * made with the window as its life), whatever the number of requests: a flood writes no more. The
 * bucket is a hash of the client address (an IPv6 address by its /64, what one subscriber is
 * usually given) or of the member, reduced to `buckets` values, so however many addresses a flood
 * comes from, an endpoint never holds more than `buckets` counters; two addresses in one bucket
 * share its count. No key name holds an address or a member id.
 */

/** What a limit says about one request. */
export type LimitAnswer = { ok: true } | { ok: false; retryAfter: number };

/** A counter's name and the limit it is held to. */
interface Counter {
  key: string;
  max: number;
  windowMs: number;
}

/** The client's address as the limit counts it: `req.ip` (Express's `trust proxy` decides it); IPv6 by its /64. */
export function clientAddress(req: Request): string {
  let ip = req.ip ?? req.socket?.remoteAddress ?? '';
  if (ip.startsWith('::ffff:') && ip.includes('.')) ip = ip.slice(7);
  if (!ip.includes(':')) return ip || 'unknown';
  // One subscriber usually holds a whole /64: counting each address of it apart would count nothing.
  const bare = ip.split('%')[0]!.toLowerCase();
  const [head = '', tail] = bare.split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(':')}::/64`;
}

/** The member a request names, when the app's Passport user carries a string `id` (the Space profile id by default). */
function memberOf(req: Request): string | undefined {
  const id = (req as { user?: { id?: unknown } }).user?.id;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function bucket(kind: string, value: string, buckets: number): string {
  return `${kind}${createHash('sha256').update(`${kind}:${value}`).digest().readUInt32BE(0) % buckets}`;
}

let warnedProxy = false;
/**
 * Behind a proxy that Express does not trust, `req.ip` is the proxy's address: every user would
 * share one count. Say so once, in words an operator can act on.
 */
function explainProxy(req: Request): void {
  if (warnedProxy || !req.get('x-forwarded-for') || req.app?.get('trust proxy fn')?.(req.socket?.remoteAddress ?? '', 0)) return;
  warnedProxy = true;
  process.emitWarning('A request came through a proxy (X-Forwarded-For) that Express does not trust, so the rate limits count every user '
    + 'behind it as one address. Set app.set("trust proxy", ...) to your proxies (see Express\'s "behind proxies" guide and docs/operations.md), '
    + 'or turn the limits off with rateLimit: false.', { code: 'PASSPORT_JETBRAINS_SPACE_TRUST_PROXY' });
}

/** The counters of one store: the runtime's (Redis, shared by every process), or a process's own. */
export class RateLimiter {
  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly limits: RateLimits, private readonly emit: (event: SpaceTokenEvent) => void) {}

  private counters(req: Request, endpoint: RateLimitedEndpoint): Counter[] {
    const limits = this.limits;
    const rule = limits ? limits[endpoint] : undefined;
    if (!limits || !rule) return [];
    explainProxy(req);
    const counters = [{ key: this.keys.rateLimit(endpoint, bucket('a', clientAddress(req), limits.buckets)), ...rule }];
    const member = memberOf(req);
    if (member) counters.push({ key: this.keys.rateLimit(endpoint, bucket('m', member, limits.buckets)), ...rule });
    return counters;
  }

  /** True when `endpoint` is limited at all. */
  on(endpoint: RateLimitedEndpoint): boolean {
    return Boolean(this.limits && this.limits[endpoint]);
  }

  /**
   * Counts this request and says whether it is within the limits. Redis away counts nothing and
   * lets the request through: the limits keep floods out, they never take the app down with Redis.
   */
  async take(req: Request, endpoint: RateLimitedEndpoint): Promise<LimitAnswer> {
    const counters = this.counters(req, endpoint);
    const answers = await this.run(counters, COUNT_REQUEST, (c) => [c.windowMs]);
    // Told once per counter and window, not once per refused request: a flood does not flood the logs.
    return this.verdict(endpoint, counters, answers, 0, (count, max) => count === max + 1);
  }

  /** Counts a request after the fact (verifySpaceRequest counts only the requests it refuses). */
  async record(req: Request, endpoint: RateLimitedEndpoint): Promise<void> {
    const counters = this.counters(req, endpoint);
    const answers = await this.run(counters, COUNT_REQUEST, (c) => [c.windowMs]);
    this.verdict(endpoint, counters, answers, 1, (count, max) => count === max);
  }

  /** Whether the limits are spent already (the next counted request would be one too many), without counting. */
  async peek(req: Request, endpoint: RateLimitedEndpoint): Promise<LimitAnswer> {
    const counters = this.counters(req, endpoint);
    return this.verdict(endpoint, counters, await this.run(counters, PEEK_COUNT, () => []), 1, () => false);
  }

  private async run(counters: Counter[], script: typeof COUNT_REQUEST, args: (c: Counter) => number[]): Promise<Array<[number, number]>> {
    if (counters.length === 0) return [];
    try {
      return await Promise.all(counters.map((c) => this.kv.run(script, [c.key], args(c)) as Promise<[number, number]>));
    } catch (err) {
      if (!isRedisOutage(err)) throw err;
      this.emit({ event: 'redis.unavailable', reason: 'rate_limit', message: err instanceof Error ? err.message : String(err) });
      return [];
    }
  }

  /** Over the limit when `count + slack > max`; `Retry-After` is the longest wait of the counters over it. */
  private verdict(endpoint: RateLimitedEndpoint, counters: Counter[], answers: Array<[number, number]>, slack: number, tell: (count: number, max: number) => boolean): LimitAnswer {
    let retryAfter = 0;
    answers.forEach(([count, left], i) => {
      const { max } = counters[i]!;
      if (tell(Number(count), max)) this.emit({ event: 'ratelimit.exceeded', reason: endpoint, status: 429 });
      if (Number(count) + slack <= max) return;
      retryAfter = Math.max(retryAfter, Math.ceil(Math.max(1000, Number(left)) / 1000));
    });
    return retryAfter > 0 ? { ok: false, retryAfter } : { ok: true };
  }
}

const limiters = new WeakMap<SpaceRuntime, RateLimiter>();

/** The runtime's limiter: its store (Redis, shared by every process) and its shared setting `rateLimit`. */
export function limiterOf(runtime: SpaceRuntime): RateLimiter {
  let limiter = limiters.get(runtime);
  if (!limiter) limiters.set(runtime, (limiter = new RateLimiter(runtime.kv, runtime.keys, runtime.settings.rateLimit, runtime.emit)));
  return limiter;
}

/** A limiter of this process only, with the default limits: for verifySpaceRequest given no strategy. */
export function processLimiter(): RateLimiter {
  return new RateLimiter(kvFor(undefined, 2000), new Keys('space:'), DEFAULT_RATE_LIMITS, () => undefined);
}

/** 429 with `Retry-After`: JSON for API requests, a short page for a browser. */
export function answerRateLimited(req: Request, res: Response, endpoint: RateLimitedEndpoint, retryAfter: number): void {
  const what = endpoint === 'webhook' ? 'requests' : 'sign-in attempts';
  sendError(req, res, 429, 'rate_limited', `Too many ${what} from your network; try again in ${retryAfter} s`, {
    headers: { 'Retry-After': String(retryAfter) },
    title: 'Too many requests',
  });
}

/**
 * Counts a sign-in step (start or callback) against its limit; over it, answers 429 itself and
 * resolves to false (nothing else may answer, and nothing reaches Space or the pending store).
 */
export async function withinLimit(runtime: SpaceRuntime, req: Request, endpoint: 'signIn' | 'callback'): Promise<boolean> {
  const limiter = limiterOf(runtime);
  if (!limiter.on(endpoint)) return true;
  const answer = await limiter.take(req, endpoint);
  if (answer.ok) return true;
  answerRateLimited(req, req.res!, endpoint, answer.retryAfter);
  return false;
}
