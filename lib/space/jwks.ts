import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { SpaceApiError } from '../core';
import { isRecord } from './call';

/** Options of a {@link KeySet}. */
export interface KeySetOptions {
  /** Fetches the current JWKS document (`{ keys: [...] }`); throws a SpaceError when Space fails. */
  fetch: () => Promise<unknown>;
  /** Fewest milliseconds between two fetches caused by a key miss, so junk tokens cannot make us hammer Space. */
  minRefetchInterval: number;
  /** Keys older than this are fetched again before use, ms. */
  maxAge: number;
}

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
 * A cached key set: fetched on first use (one fetch at a time), fetched again when older than
 * `maxAge`, and once more when no key verifies a signature (the signer may have rotated its
 * key), at most once per `minRefetchInterval`.
 */
export class KeySet {
  private keys: KeyObject[] | undefined;
  private fetchedAt = 0;
  private lastMissFetch = Number.NEGATIVE_INFINITY;
  private inflight: Promise<KeyObject[]> | undefined;

  constructor(private readonly options: KeySetOptions) {}

  private load(): Promise<KeyObject[]> {
    this.inflight ??= this.options.fetch()
      .then((document) => {
        const keys = rsaKeysOf(document);
        if (keys.length === 0) {
          throw new SpaceApiError('Space answered a key set without any usable RSA key', { code: 'SPACE_INVALID_RESPONSE' });
        }
        this.keys = keys;
        this.fetchedAt = Date.now();
        return keys;
      })
      .finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** True when some key passes `test`; fetches the keys again once on a miss (rate-limited). */
  async find(test: (key: KeyObject) => boolean): Promise<boolean> {
    const stale = !this.keys || Date.now() - this.fetchedAt > this.options.maxAge;
    const keys = stale ? await this.load() : this.keys!;
    if (keys.some(test)) return true;
    // Keys fetched just now are as new as a refetch would give.
    if (stale || Date.now() - this.lastMissFetch < this.options.minRefetchInterval) return false;
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
