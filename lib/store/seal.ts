import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Tokens encrypted at rest: AES-256-GCM with a random 96-bit nonce, bound to where the value is
 * stored (the additional data names the place, e.g. the session copy or the renewal record of
 * one sign-in), so a ciphertext moved elsewhere does not decrypt. The first key encrypts; every
 * key decrypts, which lets keys rotate: add a new first key, later drop the old one (its
 * sessions then read as signed out, never as an error).
 *
 * Format: `s1.<base64url(nonce | ciphertext | tag)>`.
 */
export function parseEncryptionKeys(owner: string, value: unknown): Buffer[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${owner} option "encryptionKeys" must be a non-empty array of 32-byte keys: [current, ...previous]`);
  }
  return value.map((key, i) => {
    let buf: Buffer | undefined;
    if (Buffer.isBuffer(key)) buf = key;
    else if (typeof key === 'string' && /^[0-9a-fA-F]{64}$/.test(key)) buf = Buffer.from(key, 'hex');
    else if (typeof key === 'string' && /^[A-Za-z0-9+/_-]{43}=?$/.test(key)) buf = Buffer.from(key, key.includes('-') || key.includes('_') ? 'base64url' : 'base64');
    if (!buf || buf.length !== 32) {
      // Never echo the value: it is a secret.
      throw new TypeError(`${owner} option "encryptionKeys"[${i}] must be 32 bytes: a Buffer, 64 hex characters or 44 base64 characters (e.g. crypto.randomBytes(32).toString('base64'))`);
    }
    return Buffer.from(buf);
  });
}

const PREFIX = 's1.';

export function isSealed(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export function seal(keys: readonly Buffer[], plaintext: string, place: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys[0]!, nonce);
  cipher.setAAD(Buffer.from(place));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return PREFIX + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64url');
}

/** The plaintext, or undefined when no key decrypts it (a removed key, a value moved or tampered with). */
export function unseal(keys: readonly Buffer[], sealed: string, place: string): string | undefined {
  const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64url');
  if (raw.length < 12 + 16) return undefined;
  const nonce = raw.subarray(0, 12);
  const tag = raw.subarray(raw.length - 16);
  const body = raw.subarray(12, raw.length - 16);
  for (const key of keys) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(Buffer.from(place));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      // Not this key.
    }
  }
  return undefined;
}

/** What a store read, once the one rule of {@link openStored} is applied. */
export type Opened = { ok: true; text: string } | { ok: true; plain: true } | { ok: false; why: 'plain' | 'unopenable' };

/**
 * The one rule every store reads by (sign-in records, the session's copy, pending sign-ins,
 * team facts, the application's token). `candidate` is the part of the stored value that
 * would be sealed (anything that is not an `s1.` string counts as a plain value).
 * - With encryption keys, only a sealed value one of them opens is accepted: its plaintext.
 *   A plain value is refused (`why: 'plain'`): it was not written by this library with these
 *   keys (someone with write access to Redis, or a value from before the keys were set).
 * - Without keys, a plain value is accepted as it is (`plain: true`); a sealed one cannot be
 *   read (`why: 'unopenable'`).
 * A sealed value no key opens (a retired key, a value moved elsewhere or tampered with) is
 * refused (`why: 'unopenable'`). Each store decides what a refusal means for it (signed out,
 * fetch again, no such sign-in), never an error.
 */
export function openStored(keys: readonly Buffer[], candidate: unknown, place: string): Opened {
  if (!isSealed(candidate)) return keys.length ? { ok: false, why: 'plain' } : { ok: true, plain: true };
  const text = keys.length ? unseal(keys, candidate, place) : undefined;
  return text === undefined ? { ok: false, why: 'unopenable' } : { ok: true, text };
}
