import { EventEmitter } from 'node:events';
import type { KV, LocalData, Script } from './kv';


type Entry = { value: string | Map<string, string>; expiresAt: number };

/**
 * The store for a single process without Redis: the same operations and script rules as
 * Redis, in a Map. Expired entries are dropped when read and swept as the map grows, so a
 * long run stays bounded by the live entries.
 */
export class MemoryKV implements LocalData {
  private readonly data = new Map<string, Entry>();
  private writesSinceSweep = 0;

  private live(key: string): Entry | undefined {
    const entry = this.data.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.data.delete(key);
      return undefined;
    }
    return entry;
  }

  private store(key: string, value: string | Map<string, string>, px: number): void {
    this.data.set(key, { value, expiresAt: Date.now() + px });
    // Amortized sweep: one pass per as many writes as there are entries.
    if (++this.writesSinceSweep > Math.max(1000, this.data.size)) {
      this.writesSinceSweep = 0;
      const now = Date.now();
      for (const [k, e] of this.data) if (e.expiresAt <= now) this.data.delete(k);
    }
  }

  // LocalData, for the scripts' twins.
  get(key: string): string | null {
    const entry = this.live(key);
    return entry && typeof entry.value === 'string' ? entry.value : null;
  }

  set(key: string, value: string, px: number): void {
    this.store(key, value, px);
  }

  del(key: string): void {
    this.data.delete(key);
  }

  hash(key: string): Map<string, string> | undefined {
    const entry = this.live(key);
    return entry && entry.value instanceof Map ? entry.value : undefined;
  }

  hashOrNew(key: string): Map<string, string> {
    const existing = this.hash(key);
    if (existing) return existing;
    const created = new Map<string, string>();
    this.store(key, created, 86_400_000);
    return created;
  }

  pexpire(key: string, px: number): void {
    const entry = this.live(key);
    if (entry) entry.expiresAt = Date.now() + px;
  }

  pttl(key: string): number {
    const entry = this.live(key);
    return entry ? entry.expiresAt - Date.now() : -2;
  }

  /** How many entries are held (live or not yet swept). */
  get size(): number {
    return this.data.size;
  }

  /** `SET ... NX` semantics: false when a live value is already there. */
  setNX(key: string, value: string, px: number): boolean {
    if (this.live(key)) return false;
    this.store(key, value, px);
    return true;
  }
}

/** The KV face of {@link MemoryKV} (its LocalData methods are synchronous). */
export function memoryKV(): KV & { data: MemoryKV } {
  const data = new MemoryKV();
  const bus = new EventEmitter();
  bus.setMaxListeners(0);
  return {
    kind: 'memory',
    shared: false,
    data,
    get: async (key) => data.get(key),
    set: async (key, value, px, nx = false) => {
      if (nx) return data.setNX(key, value, px);
      data.set(key, value, px);
      return true;
    },
    del: async (key) => data.del(key),
    run: async (script: Script, keys, args) => script.local(data, keys, args.map(String)),
    publish: async (channel, message) => { bus.emit(channel, message); },
    time: async () => Date.now(),
    subscribe: async (channel, onMessage) => {
      bus.on(channel, onMessage);
      return () => { bus.off(channel, onMessage); };
    },
  };
}
