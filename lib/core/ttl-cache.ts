/**
 * A small bounded cache of settled results with per-entry expiry, and one computation at a
 * time per key (concurrent askers share it). Keys are digests chosen by the caller, never secrets.
 */
export class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number } | { error: unknown; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<{ value: T; expiresAt: number } | { value: T; expiresAt: 0 }>>();

  constructor(private readonly maxEntries: number) {}

  /**
   * The cached value for `key`, or the result of `compute`, which says until when (epoch ms) its
   * value may be reused; 0 means "do not keep". A rejection is kept for `failFor(error)` ms when
   * that is above 0 (the same rejection is given meanwhile, without computing again), else not
   * at all.
   */
  async get(
    key: string,
    compute: () => Promise<{ value: T; expiresAt: number }>,
    failFor?: (error: unknown) => number,
  ): Promise<T> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && hit.expiresAt > now) {
      if ('error' in hit) throw hit.error;
      return hit.value;
    }
    if (hit) this.entries.delete(key);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = compute().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
      if (failFor) {
        pending.catch((error: unknown) => {
          const ms = failFor(error);
          if (ms > 0 && !this.entries.has(key)) this.store(key, { error, expiresAt: Date.now() + ms });
        });
      }
    }
    const result = await pending;
    if (result.expiresAt > Date.now() && !this.entries.has(key)) this.store(key, result);
    return result.value;
  }

  private store(key: string, entry: { value: T; expiresAt: number } | { error: unknown; expiresAt: number }): void {
    this.entries.set(key, entry);
    if (this.entries.size <= this.maxEntries) return;
    const now = Date.now();
    for (const [k, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(k);
    // Still full: drop the oldest (a Map iterates in insertion order).
    for (const k of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(k);
    }
  }
}
