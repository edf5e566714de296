import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import Redis, { type RedisOptions } from 'ioredis';

/** The machine's Redis, unless REDIS_URL says otherwise. */
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * ioredis options that fail fast instead of queueing while Redis is down: no offline
 * queue, one retry per command, short connect and command timeouts.
 */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 1000,
  commandTimeout: 1000,
  retryStrategy: (times) => Math.min(times * 100, 500),
};

/** A key prefix unique to one test file run, so tests never touch each other's keys. */
export function uniquePrefix(name: string): string {
  return `pjs-test:${name}:${randomBytes(4).toString('hex')}:`;
}

export async function connectRedis(url = REDIS_URL, options: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, { ...FAIL_FAST, lazyConnect: true, ...options });
  await redis.connect();
  return redis;
}

/** Deletes every key under `prefix` (tests must clean up what they write). */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length) deleted += await redis.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A redis-server of the test's own, on a free port, that the test may stop, pause and restart. */
export interface OwnRedis {
  port: number;
  url: string;
  /** SIGSTOP: Redis hangs (accepts nothing, answers nothing). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Stops the server (connections are refused afterwards). */
  stop(): Promise<void>;
  /** Starts it again on the same port (data is lost: no persistence). */
  start(): Promise<void>;
}

/** `args` are given to redis-server after the defaults (and win over them), e.g. `['--save', '3600 1']`. */
export async function startOwnRedis(args: string[] = []): Promise<OwnRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local', ...args], {
      stdio: 'ignore',
    });
    const deadline = Date.now() + 5000;
    for (;;) {
      const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    c.kill('SIGCONT');
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop,
    start,
  };
}

/** A key's value as text, whatever its type (strings as they are, hashes as JSON), for scans. */
export async function keyText(redis: Redis, key: string): Promise<string> {
  const type = await redis.type(key);
  if (type === 'string') return (await redis.get(key)) ?? '';
  if (type === 'hash') return JSON.stringify(await redis.hgetall(key));
  if (type === 'zset') return JSON.stringify(await redis.zrange(key, 0, -1, 'WITHSCORES'));
  if (type === 'set') return JSON.stringify(await redis.smembers(key));
  return '';
}

/**
 * The tokens of a stored session, as the library keeps them: the session names its sign-in
 * (`space.tokens.grant`) and the tokens are in that sign-in's record,
 * `<prefix>space:{<grant>}:tokens` next to `<prefix>sess:<id>` (unencrypted records only).
 * The record's bookkeeping (`grant`, `version`, `consent`) comes along, and for a member's sign-in
 * the refresh token of the member's consent (`<prefix>space:{c:<hash>}:tokens`).
 */
export async function sessionTokens(redis: Redis, sessionKey: string): Promise<Record<string, any> | undefined> {
  const raw = await redis.get(sessionKey);
  const ref = raw ? JSON.parse(raw).space?.tokens : undefined;
  if (!ref || typeof ref.grant !== 'string') return undefined;
  const base = sessionKey.replace(/sess:[^:]*$/, 'space:');
  const record = await redis.get(`${base}{${ref.grant}}:tokens`);
  if (!record) return undefined;
  const tokens = JSON.parse(record);
  // A member's sign-in renews through the member's consent, which holds the refresh token.
  if (typeof tokens.consent === 'string' && tokens.refreshToken === undefined) {
    const consent = await redis.get(`${base}{${tokens.consent}}:tokens`);
    const refreshToken = consent ? JSON.parse(consent).refreshToken : undefined;
    if (refreshToken !== undefined) tokens.refreshToken = refreshToken;
  }
  return tokens;
}
