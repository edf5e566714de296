import { randomBytes } from 'node:crypto';

/** The application's own access token as it is cached (in memory and in a shared store). */
export interface CachedAppToken {
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** Epoch milliseconds when Space issued it: with `expiresAt`, the token's lifetime. */
  issuedAt: number;
  tokenType: string;
  scope: string;
}

/**
 * Where processes share the application's token and the lock that lets one of them fetch a
 * new one. One instance per (Space, client, scope). Every method may throw when the store is
 * down: the app client then fetches its own token instead of failing.
 */
export interface AppTokenStore {
  read(): Promise<CachedAppToken | undefined>;
  /** Tries to take the fetch lock; returns its token, or undefined if another process holds it. */
  lock(): Promise<string | undefined>;
  isLocked(): Promise<boolean>;
  /** Stores `token` for `ttl` ms and releases the lock if it is still `lockToken`'s, in one step. */
  write(token: CachedAppToken, ttl: number, lockToken: string): Promise<void>;
  unlock(lockToken: string): Promise<void>;
}

/** The part of an ioredis client used here (typed structurally: ioredis stays optional). */
export interface AppTokenRedis {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

export interface RedisAppTokenStoreSettings {
  /** Key prefix, e.g. `'space:'`. */
  prefix: string;
  /** Names the (Space, client, scope) triple; a digest, never a secret. */
  id: string;
  /** How long a lock lives if its holder dies, ms; longer than a token request can take. */
  lockTTL: number;
  /** Longest wait for one Redis command, ms. */
  commandTimeout: number;
}

// The lock pattern of the Redis SET docs: release only a lock that is still ours.
const WRITE_AND_RELEASE = `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

function isCachedAppToken(value: unknown): value is CachedAppToken {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.accessToken === 'string' && v.accessToken !== ''
    && typeof v.expiresAt === 'number' && typeof v.issuedAt === 'number' && typeof v.tokenType === 'string' && typeof v.scope === 'string';
}

/**
 * The shared token and its lock in Redis: `<prefix>{app:<id>}:token` and `<prefix>{app:<id>}:lock`.
 * The braces are one Redis Cluster hash tag, so both keys live on one node and the release
 * script may touch both. Every key has a TTL: the token its remaining lifetime, the lock `lockTTL`.
 */
export class RedisAppTokenStore implements AppTokenStore {
  private readonly tokenKey: string;
  private readonly lockKey: string;

  constructor(private readonly redis: AppTokenRedis, private readonly settings: RedisAppTokenStoreSettings) {
    this.tokenKey = `${settings.prefix}{app:${settings.id}}:token`;
    this.lockKey = `${settings.prefix}{app:${settings.id}}:lock`;
  }

  /** Runs one command with a deadline, whatever the client's own settings. */
  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer ${what} within ${this.settings.commandTimeout} ms`)), this.settings.commandTimeout);
    });
    try {
      return await Promise.race([run(), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }

  async read(): Promise<CachedAppToken | undefined> {
    const raw = await this.command('GET app token', () => this.redis.get(this.tokenKey));
    if (!raw) return undefined;
    try {
      const value: unknown = JSON.parse(raw);
      return isCachedAppToken(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async lock(): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const ok = await this.command('SET app lock', () => this.redis.set(this.lockKey, token, 'PX', this.settings.lockTTL, 'NX'));
    return ok === 'OK' ? token : undefined;
  }

  async isLocked(): Promise<boolean> {
    return (await this.command('GET app lock', () => this.redis.get(this.lockKey))) !== null;
  }

  async write(token: CachedAppToken, ttl: number, lockToken: string): Promise<void> {
    const value = JSON.stringify(token);
    await this.command('write app token', () => this.redis.eval(WRITE_AND_RELEASE, 2, this.tokenKey, this.lockKey, value, Math.max(1, Math.floor(ttl)), lockToken));
  }

  async unlock(lockToken: string): Promise<void> {
    await this.command('release app lock', () => this.redis.eval(RELEASE, 1, this.lockKey, lockToken));
  }
}
