import { Keys, type KV, openStored, PAUSE_LEFT, RedisLock, seal, WRITE_AND_RELEASE } from '../store';

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
  /**
   * Optional: after a failed token request, no process asks Space again for `ms`; releases the
   * lock if it is still `lockToken`'s. Without it, each process keeps its own pause.
   */
  pause?(ms: number, lockToken: string): Promise<void>;
  /** Optional: ms left of a pause another process set (0 for none). */
  pausedFor?(): Promise<number>;
}

export interface KVAppTokenStoreSettings {
  /** Key prefix, e.g. `'space:'`. */
  prefix: string;
  /** Names the (Space, client, scope) triple; a digest, never a secret. */
  id: string;
  /** How long a lock lives if its holder dies, ms; longer than a token request can take. */
  lockTTL: number;
  /** Encryption keys: the token is sealed at rest when given. */
  encryption: readonly Buffer[];
}

function isCachedAppToken(value: unknown): value is CachedAppToken {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.accessToken === 'string' && v.accessToken !== ''
    && typeof v.expiresAt === 'number' && typeof v.issuedAt === 'number' && typeof v.tokenType === 'string' && typeof v.scope === 'string';
}

/**
 * The shared token and its lock in Redis (through the library's KV adapter, so ioredis,
 * node-redis and Cluster alike): `<prefix>{app:<id>}:token` and `<prefix>{app:<id>}:lock`, and
 * `<prefix>{app:<id>}:pause` for a while after a failed token request. The
 * braces are one Redis Cluster hash tag, so both keys live on one node and the release script
 * may touch both. Every key has a TTL: the token its remaining lifetime, the lock `lockTTL`.
 */
export class KVAppTokenStore implements AppTokenStore {
  private readonly tokenKey: string;
  private readonly lockKey: string;
  private readonly locks: RedisLock;
  private readonly pauseKey: string;

  constructor(private readonly kv: KV, private readonly settings: KVAppTokenStoreSettings) {
    const keys = new Keys(settings.prefix);
    this.tokenKey = keys.appToken(settings.id);
    this.lockKey = keys.appLock(settings.id);
    this.locks = new RedisLock(kv, settings.lockTTL);
    this.pauseKey = keys.appPause(settings.id);
  }

  async read(): Promise<CachedAppToken | undefined> {
    const raw = await this.kv.get(this.tokenKey);
    if (!raw) return undefined;
    // Refused (plain while keys are set, or no key opens it): fetch a new token instead.
    const opened = openStored(this.settings.encryption, raw, this.tokenKey);
    if (!opened.ok) return undefined;
    try {
      const value: unknown = JSON.parse('text' in opened ? opened.text : raw);
      return isCachedAppToken(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  lock(): Promise<string | undefined> {
    return this.locks.take(this.lockKey);
  }

  isLocked(): Promise<boolean> {
    return this.locks.isHeld(this.lockKey);
  }

  async write(token: CachedAppToken, ttl: number, lockToken: string): Promise<void> {
    const json = JSON.stringify(token);
    const value = this.settings.encryption.length ? seal(this.settings.encryption, json, this.tokenKey) : json;
    await this.kv.run(WRITE_AND_RELEASE, [this.tokenKey, this.lockKey], [value, Math.max(1, Math.floor(ttl)), lockToken]);
  }

  unlock(lockToken: string): Promise<void> {
    return this.locks.release(this.lockKey, lockToken);
  }

  async pause(ms: number, lockToken: string): Promise<void> {
    await this.kv.run(WRITE_AND_RELEASE, [this.pauseKey, this.lockKey], ['1', Math.max(1, Math.round(ms)), lockToken]);
  }

  async pausedFor(): Promise<number> {
    return Math.max(0, Number(await this.kv.run(PAUSE_LEFT, [this.pauseKey], [])) || 0);
  }
}
