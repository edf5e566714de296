import type { Request, RequestHandler, Response } from 'express';
import { debugOf, number, onlyKnown, SpaceApiError, TtlCache } from '../core';
import { callSpace } from '../space';
import type { SpaceStrategy } from '../strategy';

/** Options of {@link spaceHealth}. */
export interface SpaceHealthOptions {
  /** The SpaceStrategy whose Redis and Space are checked. */
  strategy: SpaceStrategy;
  /**
   * How long one check of Redis, and one of Space, is reused, ms: a flood of health requests
   * makes at most one Redis command and one Space request per `cacheTTL` in each process.
   * `0` checks on every request. Default 5000.
   */
  cacheTTL?: number;
  /** Longest wait for Space's answer, ms. Default 2000 (Redis gets the shared `redisTimeout`). */
  timeout?: number;
}

/** What spaceHealth answers, as JSON. */
export interface SpaceHealthStatus {
  /** `ok` (200) when everything answered, `unavailable` (503) otherwise. */
  status: 'ok' | 'unavailable';
  /** `ok`, `down`, or `none` when the library runs without Redis (its in-process store). */
  redis: 'ok' | 'down' | 'none';
  /** `ok` when Space answered (any status below 500 but 429), `down` otherwise. */
  space: 'ok' | 'down';
}

const OWNER = 'spaceHealth';
/** Every option name spaceHealth accepts; any other is a TypeError. */
export const HEALTH_OPTION_NAMES = ['strategy', 'cacheTTL', 'timeout'] as const;

type Check = 'ok' | 'down';

/**
 * An Express handler for load balancers and orchestrators: `200 { status: 'ok', redis: 'ok',
 * space: 'ok' }` when Redis (one `TIME` through the library's own connection) and Space (`GET
 * <spaceURL>/oauth/jwks.json`, public and cheap, through the strategy's pooled connections)
 * answer; otherwise `503` with `Retry-After` and the same body naming what is down. Each check is
 * reused for `cacheTTL` and shared by concurrent requests. Never reads a session or a token.
 *
 * ```ts
 * app.get('/healthz', spaceHealth({ strategy }));
 * ```
 */
export function spaceHealth(options: SpaceHealthOptions): RequestHandler {
  if (!options || typeof options !== 'object') throw new TypeError(`${OWNER} requires options: { strategy }`);
  onlyKnown(OWNER, options, HEALTH_OPTION_NAMES);
  const strategy = options.strategy;
  if (!strategy || typeof (strategy as Partial<SpaceStrategy>).refresh !== 'function' || !(strategy as Partial<SpaceStrategy>).client) {
    throw new TypeError(`${OWNER} requires a "strategy" option: the SpaceStrategy instance`);
  }
  const cacheTTL = number(OWNER, 'cacheTTL', options.cacheTTL, { min: 0, integer: true }) ?? 5000;
  const timeout = number(OWNER, 'timeout', options.timeout, { min: 1, integer: true }) ?? 2000;
  const log = debugOf('health');
  const checks = new TtlCache<Check>(2);
  const kept = (value: Check) => ({ value, expiresAt: cacheTTL > 0 ? Date.now() + cacheTTL : 0 });
  // Parsed once: every check asks the same URL.
  const jwksURL = new URL(`${strategy.spaceURL}/oauth/jwks.json`);

  const redis = (): Promise<Check> => checks.get('redis', async () => {
    const runtime = strategy.runtime;
    try {
      await runtime.kv.time();
      return kept('ok');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      runtime.emit({ event: 'redis.unavailable', reason: 'health', message });
      return kept('down');
    }
  });

  const space = (): Promise<Check> => checks.get('space', async () => {
    try {
      const answer = await callSpace({
        method: 'GET', url: jwksURL, headers: { accept: 'application/json' }, timeout, what: 'Space JWKS endpoint',
        errorClass: SpaceApiError, agents: strategy.client.agents, maxBytes: 256 * 1024,
      });
      // Space answered: it is up, even if this endpoint is not there (an older Space says 404).
      if (answer.status < 500 && answer.status !== 429) return kept('ok');
      if (log.enabled) log(`space down: GET ${jwksURL.origin}${jwksURL.pathname} answered ${answer.status}`);
    } catch (err) {
      if (log.enabled) log(`space down: ${err instanceof Error ? err.message : String(err)}`);
    }
    return kept('down');
  });

  return function spaceHealthHandler(_req: Request, res: Response): void {
    const usesRedis = strategy.runtime.kv.shared;
    Promise.all([usesRedis ? redis() : Promise.resolve<'none'>('none'), space()]).then(([r, s]) => {
      const ok = r !== 'down' && s === 'ok';
      const body: SpaceHealthStatus = { status: ok ? 'ok' : 'unavailable', redis: r, space: s };
      res.set('Cache-Control', 'no-store');
      if (!ok) res.set('Retry-After', String(Math.max(1, Math.ceil(cacheTTL / 1000))));
      res.status(ok ? 200 : 503).json(body);
    }, () => {
      // The checks never reject; should one, say "unavailable" rather than hang the probe.
      res.status(503).set({ 'Cache-Control': 'no-store', 'Retry-After': '1' }).json({ status: 'unavailable', redis: 'down', space: 'down' });
    });
  };
}
