import { END_RECORD, type Keys, type KV, openStored, READ_WITH_PAUSE, RedisLock, seal, WRITE_AND_RELEASE, WRITE_RECORD, WRITE_SIGN_IN } from '../store';
import { isStoredTokenSet, type StoredTokenSet } from './token-set';
import { isRecord } from '../core';

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
  private readonly locks: RedisLock;

  constructor(private readonly kv: KV, private readonly keys: Keys, private readonly encryption: readonly Buffer[], lockTTL: number) {
    this.locks = new RedisLock(kv, lockTTL);
  }

  private place(grant: string): string {
    return `record:${this.keys.record(grant)}`;
  }

  async read(grant: string): Promise<SignInRecord | undefined> {
    return this.decode(await this.kv.get(this.keys.record(grant)), grant);
  }

  /**
   * The record, and how many ms renewals of this sign-in stay paused after a failure (0 for
   * none), in one round trip: what the renewal engine reads before and under the lock.
   */
  async readWithPause(grant: string): Promise<{ record: SignInRecord | undefined; pausedFor: number }> {
    const reply = await this.kv.run(READ_WITH_PAUSE, [this.keys.record(grant), this.keys.pause(grant)], []);
    const [raw, left] = Array.isArray(reply) ? reply : [null, 0];
    return { record: this.decode(typeof raw === 'string' ? raw : null, grant), pausedFor: Math.max(0, Number(left) || 0) };
  }

  /**
   * Pauses renewals of this sign-in for `ms` in every process (a failed renewal: Space is not
   * asked again before), and releases the renewal lock if it is still `lockToken`'s, in one step.
   */
  async pause(grant: string, ms: number, lockToken: string): Promise<void> {
    await this.kv.run(WRITE_AND_RELEASE, [this.keys.pause(grant), this.keys.lock(grant)], ['1', Math.max(1, Math.round(ms)), lockToken]);
  }

  private decode(raw: string | null, grant: string): SignInRecord | undefined {
    if (!raw) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      return undefined; // Not ours, or damaged: the session's copy stands.
    }
    if (!isRecord(value)) return undefined;
    if (value.ended === true) return { ended: true, version: ENDED_VERSION };
    const opened = openStored(this.encryption, value.sealed, this.place(grant));
    // No key opens it (a key was retired, or the value was moved), or it is plain while keys
    // are set (not written by us): the sign-in has ended, its tokens are never used.
    if (!opened.ok) return { ended: true, version: ENDED_VERSION };
    if ('text' in opened) {
      try {
        value = JSON.parse(opened.text);
      } catch {
        return { ended: true, version: ENDED_VERSION };
      }
    }
    return isStoredTokenSet(value) && value.grant === grant ? value : undefined;
  }

  /** The stored form of a record (sealed to its key when encryption keys are set). */
  encode(record: SignInRecord, grant: string): string {
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

  /**
   * Marks the sign-in as ended for `ttl` ms (no copy of its tokens is used or renewed again)
   * and answers the record as it was just before: the newest tokens, to revoke at Space.
   */
  async end(grant: string, ttl: number, lockToken = ''): Promise<SignInRecord | undefined> {
    const ended = { ended: true, version: ENDED_VERSION } as const;
    const before = await this.kv.run(END_RECORD, [this.keys.record(grant), this.keys.lock(grant)], [this.encode(ended, grant), ENDED_VERSION, Math.max(1000, Math.round(ttl)), lockToken]);
    return typeof before === 'string' ? this.decode(before, grant) : undefined;
  }

  /** Takes the renewal lock; its token, or undefined when someone holds it. */
  lock(grant: string): Promise<string | undefined> {
    return this.locks.take(this.keys.lock(grant));
  }

  /** Deletes a renewal lock the library cannot have made (see {@link RedisLock.clearStray}). */
  clearStray(grant: string): Promise<boolean> {
    return this.locks.clearStray(this.keys.lock(grant));
  }

  isLocked(grant: string): Promise<boolean> {
    return this.locks.isHeld(this.keys.lock(grant));
  }

  unlock(grant: string, token: string): Promise<void> {
    return this.locks.release(this.keys.lock(grant), token);
  }
}
