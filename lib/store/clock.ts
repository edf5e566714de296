/**
 * Redis's clock, as this process estimates it.
 *
 * Every time stored with a sign-in (`issuedAt`, `expiresAt`, in the record and the session)
 * is in Redis's clock (`TIME`), not in the clock of whichever process renewed. Each process
 * measures its own offset to that clock — off the hot path: once at start-up, then every
 * minute on an unref'd timer — and decides freshness with `Date.now() + offset`. So a process
 * whose clock is behind never hands out a token that has expired, and one whose clock is
 * ahead does not renew a fresh token early: each decides with its own clock, corrected.
 *
 * The estimate's error is at most half a round trip; an offset smaller than the round trip
 * (or 20 ms) is noise and taken as 0. What `req.spaceTokens.expiresAt` shows is converted
 * back to this process's clock, so app code can keep comparing it with `Date.now()`.
 * Without Redis (the in-memory store, one process) the offset is 0.
 */
export class SharedClock {
  private offset = 0;
  private first: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** True once the first measurement was tried (whatever its result). */
  tried: boolean;

  /** `time` answers Redis's clock in ms; undefined when there is no shared clock. */
  constructor(private readonly time: (() => Promise<number>) | undefined, private readonly every = 60_000) {
    this.tried = time === undefined;
  }

  /** Now, in the shared clock. */
  now(): number {
    return Date.now() + this.offset;
  }

  /** This process's offset to the shared clock, ms (shared = local + offset). */
  get skewToShared(): number {
    return this.offset;
  }

  /** The first measurement (started once); resolves whether or not Redis answered. */
  start(): Promise<void> {
    if (!this.first) {
      this.first = this.measure().finally(() => { this.tried = true; });
      if (this.time) {
        this.timer = setInterval(() => void this.measure(), this.every);
        this.timer.unref();
      }
    }
    return this.first;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private async measure(): Promise<void> {
    if (!this.time) return;
    let best: { rtt: number; offset: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const before = Date.now();
      let shared: number;
      try {
        shared = await this.time();
      } catch {
        return; // Redis away: keep the last estimate.
      }
      const after = Date.now();
      const rtt = after - before;
      const offset = shared - (before + after) / 2;
      if (!best || rtt < best.rtt) best = { rtt, offset };
    }
    if (!best) return;
    this.offset = Math.abs(best.offset) <= Math.max(20, best.rtt) ? 0 : Math.round(best.offset);
  }
}
