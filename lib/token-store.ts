import { randomBytes } from 'node:crypto';
import { isStoredTokenSet, type StoredTokenSet } from './token-set';

/**
 * The part of an ioredis client this library uses. Typed structurally so that ioredis is
 * an optional peer dependency; `new Redis(...)` from ioredis 5 fits as it is.
 */
export interface RedisLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<'OK' | null>;
  del(...keys: string[]): Promise<number>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** What the authoritative copy in Redis holds: the newest tokens, or a tombstone. */
export type SideRecord = StoredTokenSet | { revoked: true; version: number };

/** Raised when Redis does not answer in time or refuses: callers answer 503, never sign out. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

// Writes the newer record only (versions never go backwards), then releases the lock if
// it is still ours, in one atomic step (the lock pattern of the Redis SET docs).
const WRITE_AND_RELEASE = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and tonumber(decoded.version) and tonumber(decoded.version) >= tonumber(ARGV[2]) then
    if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) == ARGV[4] then redis.call('DEL', KEYS[2]) end
return 1`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Defaults shared by spaceTokenRefresh and spaceSignOut, which must agree on them. */
export const DEFAULT_KEY_PREFIX = 'space:';
export const DEFAULT_TOKEN_TTL = 30 * 86_400_000;
export const DEFAULT_REDIS_TIMEOUT = 2000;

export interface TokenStoreSettings {
  prefix: string;
  /** How long the authoritative copy lives after its last write, ms. */
  ttl: number;
  /** How long a refresh lock lives if its holder dies, ms. */
  lockTTL: number;
  /** Longest wait for one Redis command before giving up, ms. */
  commandTimeout: number;
}

/** Where the newest tokens and the renewal locks live: Redis, or one process's memory. */
export interface TokenBackend {
  read(grant: string): Promise<SideRecord | undefined>;
  /** Tries to take the renewal lock; returns its token, or undefined if someone holds it. */
  lock(grant: string): Promise<string | undefined>;
  isLocked(grant: string): Promise<boolean>;
  unlock(grant: string, token: string): Promise<void>;
  /** Writes a newer record (never an older one over a newer) and releases the lock if given. */
  write(record: SideRecord, grant: string, lockToken?: string): Promise<boolean>;
  /** Marks a grant as dead, so a stale copy of its tokens written back later is not used. */
  tombstone(grant: string, lockToken?: string): Promise<void>;
}

const TOMBSTONE: SideRecord = { revoked: true, version: Number.MAX_SAFE_INTEGER };

/**
 * The same store in this process's memory, for apps that run a single process without
 * Redis: renewals are still single-flight and never go backwards, but only within the process.
 */
export class MemoryTokenStore implements TokenBackend {
  private readonly records = new Map<string, { record: SideRecord; expiresAt: number }>();
  private readonly locks = new Map<string, { token: string; expiresAt: number }>();

  constructor(private readonly settings: Pick<TokenStoreSettings, 'ttl' | 'lockTTL'>) {}

  private sweep(now: number): void {
    for (const [grant, entry] of this.records) if (entry.expiresAt <= now) this.records.delete(grant);
    for (const [grant, entry] of this.locks) if (entry.expiresAt <= now) this.locks.delete(grant);
  }

  async read(grant: string): Promise<SideRecord | undefined> {
    this.sweep(Date.now());
    return this.records.get(grant)?.record;
  }

  async lock(grant: string): Promise<string | undefined> {
    this.sweep(Date.now());
    if (this.locks.has(grant)) return undefined;
    const token = randomBytes(16).toString('base64url');
    this.locks.set(grant, { token, expiresAt: Date.now() + this.settings.lockTTL });
    return token;
  }

  async isLocked(grant: string): Promise<boolean> {
    this.sweep(Date.now());
    return this.locks.has(grant);
  }

  async unlock(grant: string, token: string): Promise<void> {
    if (this.locks.get(grant)?.token === token) this.locks.delete(grant);
  }

  async write(record: SideRecord, grant: string, lockToken = ''): Promise<boolean> {
    const current = await this.read(grant);
    if (lockToken) await this.unlock(grant, lockToken);
    if (current && current.version >= record.version) return false;
    this.records.set(grant, { record, expiresAt: Date.now() + this.settings.ttl });
    return true;
  }

  async tombstone(grant: string, lockToken = ''): Promise<void> {
    await this.write(TOMBSTONE, grant, lockToken);
  }
}

/**
 * The authoritative copy of each sign-in's tokens and its refresh lock, in Redis, keyed by
 * the sign-in's random grant id (never the session id, never a token):
 * `<prefix>tokens:<grant>` and `<prefix>lock:<grant>`. Every key has a TTL.
 */
export class TokenStore implements TokenBackend {
  constructor(private readonly redis: RedisLike, private readonly settings: TokenStoreSettings) {}

  private tokensKey(grant: string): string {
    return `${this.settings.prefix}tokens:${grant}`;
  }

  private lockKey(grant: string): string {
    return `${this.settings.prefix}lock:${grant}`;
  }

  /** Runs one Redis command with a deadline, whatever the client's own settings. */
  private async command<T>(what: string, run: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`Redis did not answer ${what} within ${this.settings.commandTimeout} ms`)), this.settings.commandTimeout);
    });
    try {
      return await Promise.race([run(), deadline]);
    } catch (err) {
      if (err instanceof RedisUnavailableError) throw err;
      throw new RedisUnavailableError(`Redis failed ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async read(grant: string): Promise<SideRecord | undefined> {
    const raw = await this.command('GET tokens', () => this.redis.get(this.tokensKey(grant)));
    if (!raw) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (isStoredTokenSet(value)) return value;
    if (typeof value === 'object' && value !== null && (value as { revoked?: unknown }).revoked === true) {
      return { revoked: true, version: Number((value as { version?: unknown }).version) || 0 };
    }
    return undefined;
  }

  async lock(grant: string): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const ok = await this.command('SET lock', () => this.redis.set(this.lockKey(grant), token, 'PX', this.settings.lockTTL, 'NX'));
    return ok === 'OK' ? token : undefined;
  }

  async isLocked(grant: string): Promise<boolean> {
    return (await this.command('GET lock', () => this.redis.get(this.lockKey(grant)))) !== null;
  }

  async unlock(grant: string, token: string): Promise<void> {
    await this.command('release lock', () => this.redis.eval(RELEASE, 1, this.lockKey(grant), token));
  }

  async write(record: SideRecord, grant: string, lockToken = ''): Promise<boolean> {
    const result = await this.command('write tokens', () => this.redis.eval(
      WRITE_AND_RELEASE, 2, this.tokensKey(grant), this.lockKey(grant),
      JSON.stringify(record), record.version, this.settings.ttl, lockToken,
    ));
    return result === 1;
  }

  async tombstone(grant: string, lockToken = ''): Promise<void> {
    await this.write(TOMBSTONE, grant, lockToken);
  }
}
