/**
 * The emulator's token signer: a ring of RSA keys, RS512 JWT sign/verify, and the JWKS document.
 *
 * Space's tokens are compact JWS with the header `{"alg":"RS512"}` and no `kid` (docs/space-doors.md),
 * checkable offline against `<S>/oauth/jwks.json`. So the emulator signs the same way: a verifier
 * has to try every listed key. `rotate()` adds a new signing key and keeps the old one listed
 * (tokens signed before stay valid) until `dropOld()`.
 */
import { createHash, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Claims of an emulator JWT. Which ones are present depends on the kind of token (see bearer.ts). */
export interface AccessTokenClaims {
  iss: string;
  /** Profile id (user tokens) or client id (application tokens). */
  sub: string;
  /** Client id. */
  aud: string;
  iat: number;
  /** Absent on permanent tokens made without an expiry. */
  exp?: number;
  /** Emulator-internal id of an access token (not on permanent tokens). */
  jti?: string;
  /** Space-separated granted scope (not on permanent tokens). */
  scope: string;
  /** Emulator-internal: the grant (token family) this token belongs to, for revocation. */
  grant_id?: string;
  /** `USER` or `SERVICE`, as in Space's tokens. */
  principal_type?: 'USER' | 'SERVICE';
  orgDomain?: string;
  /** Username, or the application's name. */
  name?: string;
  /** The id of a permanent token. */
  perm_token?: string;
  [claim: string]: unknown;
}

/** One public key in JWKS form (RFC 7517). */
export interface PublicJwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  use: 'sig';
  alg: 'RS512';
}

interface RingKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Generates a 2048-bit RSA key pair (the RFC 7518 §3.3 minimum) off the main thread. */
export async function generateRingKey(): Promise<RingKey> {
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
  return ringKey(privateKey, publicKey);
}

/** Wraps a key pair; the JWKS `kid` is the RFC 7638 thumbprint (tokens themselves carry none). */
export function ringKey(privateKey: KeyObject, publicKey: KeyObject): RingKey {
  const jwk = publicKey.export({ format: 'jwk' });
  // RFC 7638 §3.2: the thumbprint input has the required members only, in lexicographic order.
  const kid = base64url(createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n })).digest());
  return { privateKey, publicKey, jwk: { kty: String(jwk.kty), n: String(jwk.n), e: String(jwk.e), kid, use: 'sig', alg: 'RS512' } };
}

/** Signs and verifies the emulator's JWTs with a rotatable ring of RSA keys. */
export class TokenSigner {
  /** Newest first: `keys[0]` signs. */
  private keys: RingKey[];

  private constructor(first: RingKey) {
    this.keys = [first];
  }

  static async create(): Promise<TokenSigner> {
    return new TokenSigner(await generateRingKey());
  }

  /** The `kid` of the current signing key as listed in the JWKS (tokens carry no `kid`). */
  get kid(): string {
    return this.keys[0]!.jwk.kid;
  }

  /** A new key signs from now on; the previous ones stay listed until `dropOld()`. */
  async rotate(): Promise<void> {
    this.keys = [await generateRingKey(), ...this.keys];
  }

  /** Stops listing (and accepting) every key but the current one. */
  dropOld(): void {
    this.keys = [this.keys[0]!];
  }

  /** Returns a compact JWS (RFC 7515) over `claims`, with Space's header `{"alg":"RS512"}`. */
  sign(claims: Record<string, unknown>): string {
    const header = base64url(JSON.stringify({ alg: 'RS512' }));
    const payload = base64url(JSON.stringify(claims));
    const signature = sign('sha512', Buffer.from(`${header}.${payload}`), this.keys[0]!.privateKey);
    return `${header}.${payload}.${base64url(signature)}`;
  }

  /**
   * Returns the claims if `token` is an RS512 JWT signed by a listed key, else null. Expiry is
   * not checked here: the API answers an expired token differently from a forged one.
   */
  verify(token: string): AccessTokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [header, payload, signature] = parts as [string, string, string];
    try {
      const head: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      // Pin the algorithm: never let the token choose it (RFC 8725 §3.1).
      if (!isRecord(head) || head.alg !== 'RS512') return null;
      const data = Buffer.from(`${header}.${payload}`);
      const sig = Buffer.from(signature, 'base64url');
      if (!this.keys.some((k) => verify('sha512', data, k.publicKey, sig))) return null;
      const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      return isClaims(claims) ? claims : null;
    } catch {
      return null;
    }
  }

  /** The JWKS document served at `/oauth/jwks.json`: every listed key, the signing one first. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys.map((k) => ({ ...k.jwk })) };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isClaims(value: unknown): value is AccessTokenClaims {
  if (!isRecord(value)) return false;
  const strings = ['iss', 'sub', 'aud'].every((k) => typeof value[k] === 'string');
  return strings && typeof value.iat === 'number' && (value.exp === undefined || typeof value.exp === 'number');
}

/** Decodes a JWT payload without verifying it; for tests and debugging only. */
export function decodeJwtPayload(token: string): Record<string, unknown> | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    return isRecord(value) ? value : null;
  } catch {
    return null;
  }
}
