/**
 * The Redis connection shared by the session store (connect-redis) and the token renewal
 * middleware (spaceTokenRefresh), and the in-memory fallback when Redis is not there.
 */
import Redis, { type RedisOptions } from 'ioredis';
import { chooseSessionStore, ConfigError, type Settings } from './config';

/**
 * Fail fast instead of queueing while Redis is down: a request then gets a 503 within about
 * two seconds (spaceErrorHandler) rather than hanging. ioredis keeps reconnecting in the
 * background, so the app recovers by itself when Redis is back.
 */
export const REDIS_OPTIONS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: (times) => Math.min(times * 200, 2000),
};

export type Connected = { ok: true; redis: Redis } | { ok: false; reason: string };

/** Connects and PINGs once; on failure the client is closed (no reconnect loop left behind). */
export async function tryConnect(url: string, options: RedisOptions = {}): Promise<Connected> {
  const redis = new Redis(url, { ...REDIS_OPTIONS, lazyConnect: true, ...options });
  let lastError = '';
  const remember = (err: Error): void => { lastError = err.message; };
  redis.on('error', remember);
  try {
    await redis.connect();
    await redis.ping();
    redis.off('error', remember);
    return { ok: true, redis };
  } catch (err) {
    redis.disconnect();
    return { ok: false, reason: lastError || (err instanceof Error ? err.message : String(err)) };
  }
}

export interface SessionBackend {
  /** The Redis client, or null for in-memory sessions. */
  redis: Redis | null;
  /** A line for the startup banner when falling back to memory. */
  notice?: string;
}

/** Redis if it answers; else memory or a {@link ConfigError}, per {@link chooseSessionStore}. */
export async function openSessionBackend(
  settings: Pick<Settings, 'redisURL' | 'redisURLFromEnv'>,
  connect: (url: string) => Promise<Connected> = tryConnect,
): Promise<SessionBackend> {
  const connected = await connect(settings.redisURL);
  const choice = chooseSessionStore(settings, connected.ok, connected.ok ? undefined : connected.reason);
  if (connected.ok) return { redis: connected.redis };
  if (choice.kind === 'fail') throw new ConfigError(choice.message);
  return { redis: null, notice: choice.kind === 'memory' ? choice.notice : undefined };
}
