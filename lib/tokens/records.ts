import { randomBytes } from 'node:crypto';
import type { Keys } from '../store/key-names';
import type { KV } from '../store/redis';
import { CLEAR_STRAY_LOCK, RELEASE_LOCK, WRITE_RECORD, WRITE_SIGN_IN } from '../store/scripts';
import { isSealed, seal, unseal } from '../store/seal';
import { isStoredTokenSet, type StoredTokenSet } from './token-set';
import { isRecord } from '../core/checks';

/** A sign-in's authoritative record: its newest tokens, or the mark that it has ended. */
export type SignInRecord = StoredTokenSet | { ended: true; version: number };

/** The highest version: an ended sign-in can never be written over. */
export const ENDED_VERSION = Number.MAX_SAFE_INTEGER;

export function isEnded(record: SignInRecord | undefined): record is { ended: true; version: number } {
  return record !== undefined && 'ended' in record;
}

/**
 * The records of sign-ins and their renewal locks, in Redis (or memory): `<prefix>{<grant>}:tokens`
 * and `<prefix>{<grant>}:lock`. Records are versioned so an older copy never wins; with
 * encryption keys, the tokens in them are sealed to their key.
 */
export class RecordStore {
  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly encryption: readonly Buffer[], private readonly lockTTL: number) {}

  private place(grant: string): string {
    return `record:${this.keys.record(grant)}`;
  }

  async read(grant: string): Promise<SignInRecord | undefined> {
    const raw = await this.kv.get(this.keys.record(grant));
    if (!raw) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined; // Not ours, or damaged: the session's copy stands.
    }
    if (!isRecord(value)) return undefined;
    if (value.ended === true) return { ended: true, version: ENDED_VERSION };
    if (isSealed(value.sealed)) {
      const plain = this.encryption.length ? unseal(this.encryption, value.sealed, this.place(grant)) : undefined;
      // No key opens it (a key was retired, or the value was moved): the sign-in has ended.
      if (plain === undefined) return { ended: true, version: ENDED_VERSION };
      try {
        value = JSON.parse(plain);
      } catch {
        return { ended: true, version: ENDED_VERSION };
      }
    }
    return isStoredTokenSet(value) && value.grant === grant ? value : undefined;
  }

  private encode(record: SignInRecord, grant: string): string {
    if (isEnded(record)) return JSON.stringify({ ended: true, version: ENDED_VERSION });
    if (this.encryption.length) return JSON.stringify({ version: record.version, sealed: seal(this.encryption, JSON.stringify(record), this.place(grant)) });
    return JSON.stringify(record);
  }

  /** Writes a newer record and releases the lock if given; false when Redis kept a newer one (or an end mark). */
  async write(record: SignInRecord, grant: string, ttl: number, lockToken = ''): Promise<boolean> {
    const written = await this.kv.run(WRITE_RECORD, [this.keys.record(grant), this.keys.lock(grant)], [this.encode(record, grant), record.version, Math.max(1000, Math.round(ttl)), lockToken]);
    return Number(written) === 1;
  }

  /** A new sign-in's first record, and whose it is (`owner`, '' for nobody), in one step. */
  async writeFirst(record: StoredTokenSet, ttl: number, owner: string): Promise<void> {
    const grant = record.grant;
    await this.kv.run(WRITE_SIGN_IN, [this.keys.record(grant), this.keys.owner(grant)], [this.encode(record, grant), Math.max(1000, Math.round(ttl)), owner]);
  }

  /** Marks the sign-in as ended for `ttl` ms: no copy of its tokens is used or renewed again. */
  end(grant: string, ttl: number, lockToken = ''): Promise<boolean> {
    return this.write({ ended: true, version: ENDED_VERSION }, grant, ttl, lockToken);
  }

  /** Takes the renewal lock; its token, or undefined when someone holds it. */
  async lock(grant: string): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const key = this.keys.lock(grant);
    // A SET that timed out here may still run when a stalled Redis wakes up: release it
    // then, so a lock nobody owns never blocks that sign-in for its whole TTL.
    try {
      return (await this.kv.set(key, token, this.lockTTL, true, () => { this.unlock(grant, token).catch(() => undefined); })) ? token : undefined;
    } catch (err) {
      this.releaseLater(grant, token);
      throw err;
    }
  }

  /**
   * After a failed `SET NX`: the client may have given up on its own (its command timeout)
   * so `onLate` never hears of a SET Redis still carries out. Release the token until one
   * release gets an answer: commands on a connection run in order, so once a later command
   * is answered, the SET has run (and is undone) or never will. Only our token is deleted.
   */
  private releaseLater(grant: string, token: string): void {
    const until = Date.now() + this.lockTTL;
    const retry = () => {
      this.unlock(grant, token).catch(() => {
        if (Date.now() < until) setTimeout(retry, 200).unref();
      });
    };
    setTimeout(retry, 100).unref();
  }

  /**
   * Deletes a lock the library cannot have made: one without a TTL, or with more than ten
   * times `lockTTL` left (someone else's key, or a hostile value; the margin leaves alone the
   * locks of processes configured with a longer `lockTTL`, e.g. during a rolling deploy).
   * Such a lock would block the sign-in for good. True when one was deleted.
   */
  async clearStray(grant: string): Promise<boolean> {
    return Number(await this.kv.run(CLEAR_STRAY_LOCK, [this.keys.lock(grant)], [this.lockTTL * 10])) === 1;
  }

  async isLocked(grant: string): Promise<boolean> {
    return (await this.kv.get(this.keys.lock(grant))) !== null;
  }

  async unlock(grant: string, token: string): Promise<void> {
    await this.kv.run(RELEASE_LOCK, [this.keys.lock(grant)], [token]);
  }
}
