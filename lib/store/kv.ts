import { RedisUnavailableError } from '../core';

/**
 * A Lua script with its in-memory twin. Redis runs `lua`; the memory store (one process, no
 * Redis) runs `local` over the same keys and arguments, so both keep the same rules.
 */
export interface Script {
  name: string;
  lua: string;
  local(kv: LocalData, keys: string[], args: string[]): unknown;
}

/** The data a script's memory twin works on: string values and hashes, each with an expiry. */
export interface LocalData {
  get(key: string): string | null;
  set(key: string, value: string, px: number): void;
  del(key: string): void;
  hash(key: string): Map<string, string> | undefined;
  hashOrNew(key: string): Map<string, string>;
  pexpire(key: string, px: number): void;
  /** Milliseconds left, as Redis's PTTL: -2 when the key does not exist. */
  pttl(key: string): number;
}

/**
 * The library's whole view of Redis: a handful of operations, implemented once for ioredis
 * (single node, Sentinel, Cluster) and once for node-redis, plus an in-memory twin. Every
 * call has a deadline and fails as {@link RedisUnavailableError}, scrubbed of the command's
 * arguments (a client error may quote them, and they can hold tokens).
 */
export interface KV {
  /** `ioredis`, `ioredis-cluster`, `node-redis`, `node-redis-cluster` or `memory`. */
  readonly kind: string;
  /** False for the in-memory store: what it holds is seen by this process only. */
  readonly shared: boolean;
  get(key: string): Promise<string | null>;
  /**
   * `SET key value PX ms [NX]`; true when set. `onLate` runs if the call timed out on our side
   * but Redis carried it out later (a stalled server): the caller undoes it then.
   */
  set(key: string, value: string, px: number, nx?: boolean, onLate?: () => void): Promise<boolean>;
  del(key: string): Promise<void>;
  run(script: Script, keys: string[], args: Array<string | number>): Promise<unknown>;
  publish(channel: string, message: string): Promise<void>;
  /** Redis's clock (`TIME`), epoch ms: the clock every stored time of a sign-in is in. */
  time(): Promise<number>;
  /**
   * Calls `onMessage` for every message on `channel` until the returned function is called.
   * Resolves once the subscription is live; rejects if it cannot be made (callers fall back
   * to polling).
   */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<() => void>;
}

/** Runs one Redis call with a deadline, whatever the client's own settings. */
export function withDeadline<T>(ms: number, what: string, run: () => Promise<T>, onLate?: (value: T) => void): Promise<T> {
  // One promise and one timer per command (no race of two promises): this runs for every
  // command the library sends.
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown): void => {
      reject(err instanceof RedisUnavailableError ? err : new RedisUnavailableError(`Redis failed ${what}: ${scrubbedMessage(err)}`));
    };
    const timer = setTimeout(() => {
      settled = true;
      reject(new RedisUnavailableError(`Redis did not answer ${what} within ${ms} ms`));
    }, ms);
    let call: Promise<T>;
    try {
      call = run();
    } catch (err) {
      clearTimeout(timer);
      return fail(err);
    }
    call.then((value) => {
      // A command we gave up on may still run once Redis wakes up (a stalled server answers
      // later): let the caller undo it then, e.g. release a lock nobody is waiting for.
      if (settled) {
        try {
          onLate?.(value);
        } catch {
          // Undoing a late command is best effort: nobody is waiting for this call any more.
        }
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(value);
    }, (err: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fail(err);
    });
  });
}

/** `TIME`'s answer (seconds, microseconds) as epoch ms. */
export function timeReply(reply: unknown): number {
  const [sec, usec] = Array.isArray(reply) ? reply.map(Number) : [NaN, NaN];
  if (!Number.isFinite(sec) || !Number.isFinite(usec)) throw new RedisUnavailableError('Redis answered TIME with something else');
  return sec! * 1000 + usec! / 1000;
}

/** A client error's message without anything after the first line (never the arguments). */
export function scrubbedMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split('\n')[0]!.slice(0, 200);
}
