/**
 * The emulator's authorization state: codes, grants (token families) and refresh tokens.
 *
 * A grant is what one successful code exchange creates: every access token and refresh token
 * issued from that exchange (and from refreshing it) belongs to it. Revoking a grant kills the
 * whole family, which is what Space's self-revoke endpoint does to "the refresh token and its
 * access tokens" (docs/space-api.md#endpoints, #api-errors) and what strict rotation does on replay (RFC 9700 §4.14.2).
 */
import { createHash, randomBytes } from 'node:crypto';
import { MAX_ROTATED_OUT_PER_GRANT, RETAIN_EXPIRED_MS, SweepSchedule } from './bounds.js';

/** An issued authorization code and everything it is bound to (RFC 6749 §4.1.2, RFC 7636 §4.4). */
export interface AuthorizationCode {
  clientID: string;
  redirectURI: string;
  userID: string;
  scope: string;
  accessType: 'online' | 'offline';
  codeChallenge: string | null;
  codeChallengeMethod: 'plain' | 'S256' | null;
  /** Emulator-clock milliseconds. */
  expiresAt: number;
  used: boolean;
  /** The grant created when the code was redeemed, revoked if the code is replayed (RFC 6749 §4.1.2). */
  grantID: string | null;
}

/** A token family. */
export interface Grant {
  id: string;
  clientID: string;
  userID: string;
  scope: string;
  revoked: boolean;
  /** The refresh token currently valid for this grant, if any. */
  refreshToken: string | null;
  /** `USER` for a member's tokens; `SERVICE` for the application's own (client credentials, app permanent tokens). */
  principal: 'USER' | 'SERVICE';
  /** True for a permanent token: the grant is that one token, revoked with `revokePermanentToken`. */
  permanent: boolean;
}

interface RefreshTokenRecord {
  grantID: string;
  /** False once rotated out; presenting it again is a replay. */
  live: boolean;
}

/** Opaque random value: 32 bytes, base64url (256 bits, above RFC 6749 §10.10's 2^-128 guessing bound). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** In-memory store of codes, grants, refresh tokens and access-token ids. */
export class GrantStore {
  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly grants = new Map<string, Grant>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  /** `client \n user` pairs that already got a refresh token from a code exchange. */
  private readonly refreshTokenIssued = new Set<string>();
  /** Every user+client pair that was ever issued a refresh token (for `refreshTokens: 'once'`). */
  private readonly refreshTokenEverIssued = new Set<string>();
  /** Access tokens (`jti`) issued and not yet forgotten, with their grant and expiry (ms, Infinity if unknown). */
  private readonly accessTokens = new Map<string, { grantID: string | null; expiresAt: number }>();
  /** Those force-expired by `expireAllAccessTokens`. */
  private readonly expiredAccessTokenIds = new Set<string>();
  /** SHA-256 digests of PKCE verifiers and when they were seen (conformance `EnsurePkceCodeVerifierNotUsed`). */
  private readonly verifierDigests = new Map<string, number>();
  /** Per grant: when it last mattered (created, revoked); rotated-out refresh tokens, oldest first. */
  private readonly grantTouched = new Map<string, number>();
  private readonly rotatedOut = new Map<string, string[]>();
  private readonly sweeps = new SweepSchedule();
  /** Replays of rotated-out refresh tokens seen in strict-rotation mode. */
  reuseCount = 0;

  constructor(private readonly now: () => number) {}

  /** Stores a new code valid for `ttlSeconds` and returns it. */
  issueCode(fields: Omit<AuthorizationCode, 'expiresAt' | 'used' | 'grantID'>, ttlSeconds: number): string {
    this.maybePrune();
    const code = randomToken();
    this.codes.set(code, { ...fields, expiresAt: this.now() + ttlSeconds * 1000, used: false, grantID: null });
    return code;
  }

  /** Looks a code up without consuming it. */
  findCode(code: string): AuthorizationCode | undefined {
    return this.codes.get(code);
  }

  /** True once the code's lifetime is over, on the emulator clock. */
  isExpired(code: AuthorizationCode): boolean {
    return this.now() >= code.expiresAt;
  }

  /** Creates a grant; with `withRefreshToken` it also gets a live refresh token. */
  createGrant(clientID: string, userID: string, scope: string, withRefreshToken: boolean): Grant {
    this.maybePrune();
    const grant: Grant = { id: randomToken(12), clientID, userID, scope, revoked: false, refreshToken: null, principal: 'USER', permanent: false };
    this.grants.set(grant.id, grant);
    this.grantTouched.set(grant.id, this.now());
    if (withRefreshToken) {
      this.newRefreshToken(grant);
      this.refreshTokenIssued.add(pairKey(clientID, userID));
      this.refreshTokenEverIssued.add(pairKey(clientID, userID));
    }
    return grant;
  }

  /**
   * A grant without refresh token for the application itself (client credentials), or for one
   * permanent token (`permanent`); `userID` is '' for the application.
   */
  createTokenGrant(fields: Pick<Grant, 'clientID' | 'userID' | 'scope' | 'principal' | 'permanent'>): Grant {
    this.maybePrune();
    const grant: Grant = { id: randomToken(12), revoked: false, refreshToken: null, ...fields };
    this.grants.set(grant.id, grant);
    return grant;
  }

  /** Space issues a refresh token only on the first offline exchange per user+client (docs/space-api.md#authorization-endpoint). */
  hasIssuedRefreshToken(clientID: string, userID: string): boolean {
    return this.refreshTokenIssued.has(pairKey(clientID, userID));
  }

  /** True once the pair was issued a refresh token, revoked or not. */
  everIssuedRefreshToken(clientID: string, userID: string): boolean {
    return this.refreshTokenEverIssued.has(pairKey(clientID, userID));
  }

  /** Gives `grant` a new live refresh token; the previous one (if any) becomes a replay (rotation). */
  newRefreshToken(grant: Grant): string {
    if (grant.refreshToken !== null) {
      const old = this.refreshTokens.get(grant.refreshToken);
      if (old) old.live = false;
      const rotated = this.rotatedOut.get(grant.id) ?? [];
      rotated.push(grant.refreshToken);
      // Bounded memory: a replay of a token older than this many rotations is just "invalid".
      if (rotated.length > MAX_ROTATED_OUT_PER_GRANT) this.refreshTokens.delete(rotated.shift() ?? '');
      this.rotatedOut.set(grant.id, rotated);
    }
    const token = randomToken();
    this.refreshTokens.set(token, { grantID: grant.id, live: true });
    grant.refreshToken = token;
    return token;
  }

  /** Finds a refresh token and its grant; `live` is false for rotated-out tokens. */
  findRefreshToken(token: string): { grant: Grant; live: boolean } | undefined {
    const record = this.refreshTokens.get(token);
    const grant = record && this.grants.get(record.grantID);
    return record && grant ? { grant, live: record.live } : undefined;
  }

  /** Looks a grant up by id (the `grant_id` claim of access tokens). */
  grant(id: string): Grant | undefined {
    return this.grants.get(id);
  }

  /**
   * Revokes a grant. The user+client pair may then get a refresh token again on its next offline
   * exchange [inferred]: after a revocation the next consent is a "first" one again.
   */
  revokeGrant(id: string): void {
    const grant = this.grants.get(id);
    if (!grant || grant.revoked) return;
    grant.revoked = true;
    this.grantTouched.set(id, Math.max(this.grantTouched.get(id) ?? 0, this.now()));
    if (grant.refreshToken !== null) this.refreshTokenIssued.delete(pairKey(grant.clientID, grant.userID));
  }

  /** Revokes every sign-in grant, or those of one user (permanent and application tokens are left alone). */
  revokeAll(userID?: string): void {
    for (const grant of this.grants.values()) {
      if (grant.principal === 'USER' && !grant.permanent && (userID === undefined || grant.userID === userID)) this.revokeGrant(grant.id);
    }
  }

  /**
   * Records an issued access token id, with its grant and expiry (emulator-clock ms). Without an
   * expiry the record, and its grant, are never forgotten (a token that does not expire).
   */
  recordAccessToken(jti: string, grantID: string | null = null, expiresAt = Number.POSITIVE_INFINITY): void {
    // Recorded before any sweep, so the grant the token was just issued for counts as in use.
    this.accessTokens.set(jti, { grantID, expiresAt });
    this.maybePrune();
  }

  /** Every access token issued so far is treated as expired from now on. */
  expireAllAccessTokens(): void {
    for (const jti of this.accessTokens.keys()) this.expiredAccessTokenIds.add(jti);
  }

  /** Remembers a PKCE verifier; returns true if it was seen before. */
  noteVerifier(verifier: string): boolean {
    const digest = createHash('sha256').update(verifier).digest('base64url');
    const seen = this.verifierDigests.has(digest);
    this.verifierDigests.set(digest, this.now());
    return seen;
  }

  /** True if `expireAllAccessTokens` covered this access token. */
  isForceExpired(jti: string): boolean {
    return this.expiredAccessTokenIds.has(jti);
  }

  /** How many of each thing the store holds (for `SpaceEmulator.stats()`). */
  sizes(): { codes: number; grants: number; refreshTokens: number; accessTokens: number; verifiers: number } {
    const { codes, grants, refreshTokens, accessTokens, verifierDigests } = this;
    return { codes: codes.size, grants: grants.size, refreshTokens: refreshTokens.size, accessTokens: accessTokens.size, verifiers: verifierDigests.size };
  }

  /** Sweeps when one is due (bounds.ts); called whenever something new is issued. */
  private maybePrune(): void {
    const now = this.now();
    if (this.sweeps.due(now)) this.prune(now - RETAIN_EXPIRED_MS);
  }

  /** Forgets what expired (or stopped mattering) before `cutoff`, as bounds.ts lists. */
  private prune(cutoff: number): void {
    for (const [code, c] of this.codes) if (c.expiresAt <= cutoff) this.codes.delete(code);
    for (const [digest, seenAt] of this.verifierDigests) if (seenAt <= cutoff) this.verifierDigests.delete(digest);
    const inUse = new Set<string>();
    for (const [jti, t] of this.accessTokens) {
      if (t.expiresAt <= cutoff) {
        this.accessTokens.delete(jti);
        this.expiredAccessTokenIds.delete(jti);
      } else if (t.grantID !== null) inUse.add(t.grantID);
    }
    for (const [id, grant] of this.grants) {
      // A permanent token lives until it is revoked, whatever the clock says.
      const canIssue = !grant.revoked && (grant.refreshToken !== null || grant.permanent);
      if (canIssue || inUse.has(id) || (this.grantTouched.get(id) ?? 0) > cutoff) continue;
      this.grants.delete(id);
      this.grantTouched.delete(id);
      if (grant.refreshToken !== null) this.refreshTokens.delete(grant.refreshToken);
      for (const token of this.rotatedOut.get(id) ?? []) this.refreshTokens.delete(token);
      this.rotatedOut.delete(id);
    }
  }
}

function pairKey(clientID: string, userID: string): string {
  return `${clientID}\n${userID}`;
}
