import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { isSpaceError, SpaceApiError, type SpaceError } from '../core';
import { isRecord } from './call';

/** Options of a {@link KeySet}. */
export interface KeySetOptions {
  /** Fetches the current JWKS document (`{ keys: [...] }`); throws a SpaceError when Space fails. */
  fetch: () => Promise<unknown>;
  /**
   * Fewest milliseconds between two fetches caused by a key miss, so junk tokens cannot make us
   * hammer Space; also the longest pause after failed fetches (see {@link KeySet}).
   */
  minRefetchInterval: number;
  /** Keys older than this are fetched again before use, ms. */
  maxAge: number;
}

/** The first pause after a failed fetch, ms; it doubles with each failure in a row. */
export const FIRST_BACKOFF = 1000;
/** Keys are used while refetches fail (stale-if-error) until they are this much older than `maxAge`, ms. */
export const MAX_STALE = 24 * 3_600_000;

/**
 * The RSA keys of a JWKS document (RFC 7517) as Node key objects. Only RSA keys whose `alg`
 * is absent or RS512 and whose `use` is absent or `sig` are kept; Space's keys carry no `kid`
 * that tokens refer to, so every key is tried.
 */
export function rsaKeysOf(document: unknown): KeyObject[] {
  if (!isRecord(document) || !Array.isArray(document.keys)) return [];
  const keys: KeyObject[] = [];
  for (const jwk of document.keys.slice(0, 20)) {
    if (!isRecord(jwk) || jwk.kty !== 'RSA' || typeof jwk.n !== 'string' || typeof jwk.e !== 'string') continue;
    if (jwk.alg !== undefined && jwk.alg !== 'RS512') continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    try {
      keys.push(createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e }, format: 'jwk' }));
    } catch {
      // A malformed key is skipped; the others may still verify.
    }
  }
  return keys;
}

/**
 * A cached key set, the one way the library fetches signing keys (Space's JWKS for bearer tokens,
 * an application's public keys for requests from Space), so that no request can make it ask Space
 * more than this:
 *
 * - One fetch at a time: everyone who needs the keys meanwhile waits for that fetch.
 * - Fetched on first use, again when older than `maxAge`, and once more when no key verifies a
 *   signature (the signer may have rotated its key), at most once per `minRefetchInterval`.
 * - After a failed fetch, none before a pause: 1 s, doubling with each failure in a row, or the
 *   answer's `Retry-After` when longer, never more than `minRefetchInterval` (nor less than 1 s).
 *   Meanwhile a request that needs a fetch fails at once (a SpaceError with `retryAfter`: the
 *   rest of the pause) without asking Space: junk tokens and forged requests cost nothing.
 * - Keys that are due for a refetch keep being used while refetches fail (stale-if-error), for up
 *   to {@link MAX_STALE} past `maxAge`: a JWKS outage does not turn valid tokens away.
 */
export class KeySet {
  private keys: KeyObject[] | undefined;
  private fetchedAt = 0;
  private lastMissFetch = Number.NEGATIVE_INFINITY;
  private inflight: Promise<KeyObject[]> | undefined;
  /** Failed fetches in a row, and until when none is made (epoch ms). */
  private failures = 0;
  private pausedUntil = 0;
  private lastError: SpaceError | undefined;

  constructor(private readonly options: KeySetOptions) {}

  /** The longest pause after failures, ms. */
  private get maxBackoff(): number {
    return Math.max(FIRST_BACKOFF, this.options.minRefetchInterval);
  }

  private load(): Promise<KeyObject[]> {
    this.inflight ??= this.options.fetch()
      .then((document) => {
        const keys = rsaKeysOf(document);
        if (keys.length === 0) {
          throw new SpaceApiError('Space answered a key set without any usable RSA key', { code: 'SPACE_INVALID_RESPONSE' });
        }
        this.keys = keys;
        this.fetchedAt = Date.now();
        this.failures = 0;
        this.pausedUntil = 0;
        this.lastError = undefined;
        return keys;
      }, (err: unknown) => {
        this.failures += 1;
        const doubling = FIRST_BACKOFF * 2 ** Math.min(this.failures - 1, 20);
        const asked = isSpaceError(err) && err.retryAfter !== undefined ? err.retryAfter * 1000 : 0;
        this.pausedUntil = Date.now() + Math.min(Math.max(doubling, asked), this.maxBackoff);
        this.lastError = isSpaceError(err) ? err : undefined;
        throw err;
      })
      .finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** The error for a fetch not made because of a pause: the last failure's, with the rest of the pause. */
  private paused(): SpaceError {
    const retryAfter = Math.max(1, Math.ceil((this.pausedUntil - Date.now()) / 1000));
    const last = this.lastError;
    return new SpaceApiError(`${last ? last.message : 'Fetching the keys failed'}; not asked again for ${retryAfter} s`, {
      code: last?.code ?? 'SPACE_UNAVAILABLE', status: last?.status, error: last?.error, errorDescription: last?.errorDescription, retryAfter, cause: last,
    });
  }

  /** Keys past `maxAge` but not yet past {@link MAX_STALE}: good enough while a refetch fails. */
  private staleKeys(): KeyObject[] | undefined {
    return this.keys && Date.now() - this.fetchedAt <= this.options.maxAge + MAX_STALE ? this.keys : undefined;
  }

  /** Keys to check a signature with, and whether they were fetched just now. */
  private async current(): Promise<{ keys: KeyObject[]; fetched: boolean }> {
    if (this.keys && Date.now() - this.fetchedAt <= this.options.maxAge) return { keys: this.keys, fetched: false };
    if (this.inflight === undefined && Date.now() < this.pausedUntil) {
      const stale = this.staleKeys();
      if (stale) return { keys: stale, fetched: false };
      throw this.paused();
    }
    try {
      return { keys: await this.load(), fetched: true };
    } catch (err) {
      const stale = this.staleKeys();
      if (stale) return { keys: stale, fetched: false };
      throw err;
    }
  }

  /**
   * True when some key passes `test`; fetches the keys again once on a miss (rate-limited). A
   * rejection (a SpaceError) means the keys could not be had: no answer either way.
   */
  async find(test: (key: KeyObject) => boolean): Promise<boolean> {
    const { keys, fetched } = await this.current();
    if (keys.some(test)) return true;
    // Keys fetched just now are as new as a refetch would give.
    if (fetched || Date.now() - this.lastMissFetch < this.options.minRefetchInterval) return false;
    // A miss while fetches are paused: the signer may have rotated, but Space is not asked now.
    if (this.inflight === undefined && Date.now() < this.pausedUntil) throw this.paused();
    this.lastMissFetch = Date.now();
    return (await this.load()).some(test);
  }
}

/** An RSA PKCS#1 v1.5 signature check (RS512 by default), for {@link KeySet.find}. */
export function rs512(data: Buffer, signature: Buffer, hash = 'sha512'): (key: KeyObject) => boolean {
  return (key) => {
    try {
      return verify(hash, data, key, signature);
    } catch {
      return false;
    }
  };
}
