import { isRecord } from '../space';

/** A compact JWS split into what a verifier needs (RFC 7515 §7.1). */
export interface ParsedJwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** The signing input, `<header>.<payload>`. */
  data: Buffer;
  signature: Buffer;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Far above Space's tokens (about 1 KB); anything longer is not one of them. */
const MAX_TOKEN_LENGTH = 8192;

function decodeJSON(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'), (key, v: unknown) => (key === '__proto__' ? undefined : v));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Splits a JWT; undefined when it is not a well-formed compact JWS. Verifies nothing. */
export function parseJwt(token: string): ParsedJwt | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJSON(h);
  const claims = decodeJSON(p);
  if (!header || !claims) return undefined;
  return { header, claims, data: Buffer.from(`${h}.${p}`, 'ascii'), signature: Buffer.from(s, 'base64url') };
}

/** What the organization check accepts. */
export interface OrganizationRule {
  /** Accepted `iss` values (origins, no trailing slash). */
  issuers: readonly string[];
  /** Required `orgDomain`, or undefined to skip that check. */
  orgDomain: string | undefined;
}

/**
 * The offline checks of verified claims (RFC 8725 §3): `exp` and `nbf` when present (permanent
 * tokens may have no `exp`), the organization, and a subject. Returns the reason for refusal,
 * or undefined when the claims pass.
 */
export function claimsProblem(claims: Record<string, unknown>, org: OrganizationRule, now: number, tolerance: number): string | undefined {
  if (claims.exp !== undefined && (typeof claims.exp !== 'number' || now >= claims.exp * 1000 + tolerance)) return 'The access token has expired';
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now + tolerance < claims.nbf * 1000)) return 'The access token is not valid yet';
  if (typeof claims.sub !== 'string' || claims.sub === '') return 'The access token has no subject';
  const iss = typeof claims.iss === 'string' ? claims.iss.replace(/\/+$/, '') : undefined;
  if (iss === undefined || !org.issuers.includes(iss)) return 'The access token was issued for another organization';
  if (org.orgDomain !== undefined && claims.orgDomain !== org.orgDomain) return 'The access token was issued for another organization';
  return undefined;
}

/**
 * Space Cloud's organization subdomain (`acme` of `https://acme.jetbrains.space`), which its
 * tokens carry as `orgDomain`; undefined for other hosts (On-Premises), where it is not known.
 */
export function cloudOrgDomain(spaceURL: string): string | undefined {
  const host = new URL(spaceURL).hostname;
  const match = /^([a-z0-9-]+)\.jetbrains\.space$/i.exec(host);
  return match?.[1]?.toLowerCase();
}
