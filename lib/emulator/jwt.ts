/**
 * The emulator's access-token signer: an RS256 key pair, JWT sign/verify, and the JWKS document.
 *
 * Space access tokens are JWTs with `sub` = profile id, `aud` = client id and `exp`, checkable
 * offline against `<S>/oauth/jwks.json` (SPACE-API.md §1, [confirmed]). The algorithm, `kid` and
 * `iss` are [unconfirmed]; RS256 with an RFC 7638 thumbprint as `kid` is the common choice.
 */
import { createHash, generateKeyPair, sign, verify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Claims of an emulator access token. */
export interface AccessTokenClaims {
  iss: string;
  /** Space profile id. */
  sub: string;
  /** Client id. */
  aud: string;
  iat: number;
  exp: number;
  jti: string;
  /** Space-separated granted scope. */
  scope: string;
  /** Emulator-internal: the grant (token family) this token belongs to, for revocation. */
  grant_id: string;
}

/** One public key in JWKS form (RFC 7517). */
export interface PublicJwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  use: 'sig';
  alg: 'RS256';
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Signs and verifies the emulator's JWTs with one freshly generated RSA key. */
export class TokenSigner {
  private constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
    /** RFC 7638 JWK thumbprint of the public key. */
    readonly kid: string,
  ) {}

  /** Generates a 2048-bit RSA key pair (the RFC 7518 §3.3 minimum) off the main thread. */
  static async create(): Promise<TokenSigner> {
    const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' });
    // RFC 7638 §3.2: the thumbprint input has the required members only, in lexicographic order.
    const thumbprintInput = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
    const kid = base64url(createHash('sha256').update(thumbprintInput).digest());
    return new TokenSigner(privateKey, publicKey, kid);
  }

  /** Returns a compact JWS (RFC 7515) over `claims`. */
  sign(claims: AccessTokenClaims): string {
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: this.kid }));
    const payload = base64url(JSON.stringify(claims));
    const signature = sign('sha256', Buffer.from(`${header}.${payload}`), this.privateKey);
    return `${header}.${payload}.${base64url(signature)}`;
  }

  /**
   * Returns the claims if `token` is a JWT signed by this key with the expected header, else null.
   * Expiry is not checked here: the API answers an expired token differently from a forged one.
   */
  verify(token: string): AccessTokenClaims | null {
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [header, payload, signature] = parts as [string, string, string];
    try {
      const head: unknown = JSON.parse(Buffer.from(header, 'base64url').toString('utf8'));
      // Pin the algorithm: never let the token choose it (RFC 8725 §3.1).
      if (!isRecord(head) || head.alg !== 'RS256' || head.kid !== this.kid) return null;
      const ok = verify('sha256', Buffer.from(`${header}.${payload}`), this.publicKey, Buffer.from(signature, 'base64url'));
      if (!ok) return null;
      const claims: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      return isClaims(claims) ? claims : null;
    } catch {
      return null;
    }
  }

  /** The JWKS document served at `/oauth/jwks.json`. */
  jwks(): { keys: PublicJwk[] } {
    const jwk = this.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: String(jwk.kty), n: String(jwk.n), e: String(jwk.e), kid: this.kid, use: 'sig', alg: 'RS256' }] };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isClaims(value: unknown): value is AccessTokenClaims {
  if (!isRecord(value)) return false;
  const strings = ['iss', 'sub', 'aud', 'jti', 'scope', 'grant_id'].every((k) => typeof value[k] === 'string');
  return strings && typeof value.iat === 'number' && typeof value.exp === 'number';
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
