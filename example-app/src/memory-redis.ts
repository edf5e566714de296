/**
 * A stand-in for Redis, used only when the app runs without Redis (one process).
 *
 * spaceTokenRefresh always wants a Redis client: it keeps the newest tokens of each sign-in
 * and a short refresh lock there, so that several processes renew a token once. With one
 * process and in-memory sessions there is nothing to share, and this object holds the same
 * keys in a Map. It understands exactly the two scripts the library runs (release a lock;
 * write newer tokens and release the lock) and throws on anything else, so a change in the
 * library shows up as an error rather than as silently wrong renewals.
 */
import type { RedisLike } from 'passport-jetbrains-space';

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryRedis implements RedisLike {
  private readonly entries = new Map<string, Entry>();

  private read(key: string): string | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return null;
    }
    return entry.value;
  }

  private write(key: string, value: string, ttlMs: number): void {
    if (this.entries.size >= 10_000) {
      // Forget expired keys now and then, so a long-running dev server does not grow forever.
      const now = Date.now();
      for (const [k, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(k);
    }
    this.entries.set(key, { value, expiresAt: Date.now() + ttlMs });
  }

  async get(key: string): Promise<string | null> {
    return this.read(key);
  }

  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<'OK' | null>;
  async set(key: string, value: string, _px: 'PX', ms: number, nx?: 'NX'): Promise<'OK' | null> {
    if (nx === 'NX' && this.read(key) !== null) return null;
    this.write(key, value, ms);
    return 'OK';
  }

  async del(...keys: string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) if (this.read(key) !== null && this.entries.delete(key)) deleted += 1;
    return deleted;
  }

  async eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown> {
    const keys = args.slice(0, numKeys).map(String);
    const argv = args.slice(numKeys).map(String);
    const releaseIfOwned = (lockKey: string | undefined, owner: string | undefined): number => {
      if (lockKey === undefined || !owner || this.read(lockKey) !== owner) return 0;
      this.entries.delete(lockKey);
      return 1;
    };
    if (numKeys === 1 && script.includes("redis.call('DEL'")) {
      // Release the lock KEYS[1] if it still holds ARGV[1].
      return releaseIfOwned(keys[0], argv[0]);
    }
    if (numKeys === 2 && script.includes('cjson.decode')) {
      // Write ARGV[1] (version ARGV[2], TTL ARGV[3]) to KEYS[1] unless a newer version is
      // there, then release the lock KEYS[2] if it still holds ARGV[4].
      const [tokensKey, lockKey] = keys;
      const [record = '', version = '0', ttl = '0', owner] = argv;
      const current = this.read(tokensKey!);
      let currentVersion: number | undefined;
      try {
        currentVersion = current === null ? undefined : Number((JSON.parse(current) as { version?: unknown }).version);
      } catch {
        currentVersion = undefined;
      }
      const newer = currentVersion === undefined || Number.isNaN(currentVersion) || currentVersion < Number(version);
      if (newer) this.write(tokensKey!, record, Number(ttl));
      releaseIfOwned(lockKey, owner);
      return newer ? 1 : 0;
    }
    throw new Error('MemoryRedis: unknown script; run the example app with Redis (REDIS_URL)');
  }
}
