import { randomBytes } from 'node:crypto';
import type { KV } from './kv';
import { CLEAR_STRAY_LOCK, RELEASE_LOCK } from './scripts';

/**
 * The one lock every Redis store of the library uses (a sign-in's renewal, a member's team
 * facts, the application's token): `SET key token NX PX ttl` with a random token, released only
 * by its holder (compare-and-delete), so a holder that outlived its lock never deletes the next
 * holder's. A lock whose holder died goes by itself after `ttl`.
 */
export class RedisLock {
  constructor(private readonly kv: KV, readonly ttl: number) {}

  /** Takes the lock at `key`; its token, or undefined when someone holds it. */
  async take(key: string): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    // A SET that timed out here may still run when a stalled Redis wakes up: release it
    // then, so a lock nobody owns never blocks the work behind it for its whole TTL.
    try {
      return (await this.kv.set(key, token, this.ttl, true, () => { this.release(key, token).catch(() => undefined); })) ? token : undefined;
    } catch (err) {
      this.releaseLater(key, token);
      throw err;
    }
  }

  /** Releases the lock if `token` still holds it. */
  async release(key: string, token: string): Promise<void> {
    await this.kv.run(RELEASE_LOCK, [key], [token]);
  }

  async isHeld(key: string): Promise<boolean> {
    return (await this.kv.get(key)) !== null;
  }

  /**
   * Deletes a lock the library cannot have made: one without a TTL, or with more than ten
   * times `ttl` left (someone else's key, or a hostile value; the margin leaves alone the locks
   * of processes configured with a longer TTL, e.g. during a rolling deploy). Such a lock would
   * block its work for good. True when one was deleted.
   */
  async clearStray(key: string): Promise<boolean> {
    return Number(await this.kv.run(CLEAR_STRAY_LOCK, [key], [this.ttl * 10])) === 1;
  }

  /**
   * After a failed `SET NX`: the client may have given up on its own (its command timeout)
   * so `onLate` never hears of a SET Redis still carries out. Release the token until one
   * release gets an answer: commands on a connection run in order, so once a later command
   * is answered, the SET has run (and is undone) or never will. Only our token is deleted.
   */
  private releaseLater(key: string, token: string): void {
    const until = Date.now() + this.ttl;
    const retry = () => {
      this.release(key, token).catch(() => {
        if (Date.now() < until) setTimeout(retry, 200).unref();
      });
    };
    setTimeout(retry, 100).unref();
  }
}
