/**
 * Options of the Space emulator, and the one place where they are checked.
 *
 * Every behaviour that docs/space-api.md marks [unconfirmed] or [inferred] is an option here, so a test
 * can run the strategy against each plausible Space.
 */
import {
  ANY_LOCAL_REDIRECT_URI,
  DEFAULT_ACCESS_TOKEN_TTL,
  DEFAULT_CODE_TTL,
  DEFAULT_ORGANIZATION,
  defaultClients,
  defaultUsers,
} from './defaults.js';
import type { SpaceEmulatorMembership, SpaceEmulatorRole, SpaceEmulatorTeam } from './directory.js';
import { resolveDirectory, type ResolvedDirectory } from './directory-options.js';
import { findUser, type SpaceEmulatorClient, type SpaceEmulatorUser } from './members.js';

export { findUser, type SpaceEmulatorClient, type SpaceEmulatorUser };

/** Options of {@link startSpaceEmulator}. Every field is optional. */
export interface SpaceEmulatorOptions {
  /** Port to listen on; default 0 (a free port). */
  port?: number;
  /** Interface to listen on; default `'127.0.0.1'`. */
  host?: string;
  /** Registered applications; default one client `space-emulator-client` / `space-emulator-secret` with redirect URI `'*'`. */
  clients?: SpaceEmulatorClient[];
  /** Members; default John Doe (`john.doe`) and Jane Roe (`jane.roe`). */
  users?: SpaceEmulatorUser[];
  /** Organization returned by `/api/http/organization`; default `{ name: 'Acme Corp' }`. */
  organization?: { name: string; slogan?: string };
  /** `expires_in` of access tokens in seconds; default 600. */
  accessTokenTTL?: number;
  /** Lifetime of authorization codes in seconds; default 60. Codes are single use. */
  codeTTL?: number;
  /**
   * Default false: Space's inferred behaviour (docs/space-api.md#refresh), the same refresh token is reused
   * and refresh answers carry none. True: strict rotation; replaying a rotated-out refresh token
   * answers `invalid_grant`, revokes the whole grant and counts in `refreshTokenReuseCount`.
   */
  rotateRefreshTokens?: boolean;
  /**
   * When an offline code exchange gets a refresh token (Space issues one per member and app;
   * whether it issues one again after a revocation is unconfirmed, so each plausible Space is here):
   * - `'while-none'` (default): while the member holds no live refresh token for the app: the
   *   first exchange, and again after the member's refresh token was revoked.
   * - `'once'`: only on the member's very first exchange with the app, never again, even after a
   *   revocation.
   * - `'every-exchange'`: on every offline exchange.
   */
  refreshTokens?: 'while-none' | 'once' | 'every-exchange';
  /** The same as `refreshTokens: 'every-exchange'` (kept for existing setups); false is the default. */
  refreshTokenOnEveryExchange?: boolean;
  /**
   * User id or username approved without a page, for non-browser tests; default null. A list
   * approves its users in turn, one per authorization request (load tests with many members).
   */
  autoApprove?: string | readonly string[] | null;
  /** The "Require PKCE" application setting; default false. */
  requirePKCE?: boolean;
  /** Accept `client_id`/`client_secret` in the body without Basic; default false ([unconfirmed], docs/space-api.md#client-authentication). */
  acceptClientSecretPost?: boolean;
  /** Send `token_type: "Bearer"` in token answers; default true ([unconfirmed], docs/space-api.md#token-response). */
  includeTokenType?: boolean;
  /** Send `scope` in token answers; default true ([unconfirmed], docs/space-api.md#token-response). */
  includeScope?: boolean;
  /**
   * Scope elements of which one must be granted to read `profiles/me` (`**` always passes); default
   * `['global:Profile.View']`. Whether `global:Profile.View.Basic` suffices is [unconfirmed]
   * (docs/space-api.md#scope).
   */
  profileScopes?: string[];
  /**
   * Scope elements of which one must be granted to read `/api/http/organization`; default `[]`
   * (any valid token), since the SDK lists no permission ([unconfirmed], docs/space-api.md#endpoints).
   */
  organizationScopes?: string[];
  /**
   * Whether a profile requested without `$fields` includes list fields (`emails`, `languages`);
   * default true. [unconfirmed] (docs/space-api.md#profile): set false to prove a client asks explicitly.
   */
  listsWithoutFields?: boolean;
  /** The `orgDomain` claim of tokens (the org's subdomain in Space Cloud); default `'acme'`. */
  orgDomain?: string;
  /** Serve HTTPS with this key and certificate instead of HTTP (SECURITY.md "HTTPS variant"). */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /**
   * Teams of the directory; `parentId` nests them. Default: `Acme › Platform › Storage`,
   * `Acme › Marketing` and an archived `Acme › Legacy Tools` (see emulator/README.md).
   */
  teams?: SpaceEmulatorTeam[];
  /** Roles members hold in teams; default "Team Lead", "Engineer", "Designer". */
  roles?: SpaceEmulatorRole[];
  /**
   * Who is in which team with which role. Default (only with the default teams and roles, and
   * only for default users present): john.doe leads Storage, jane.roe designs in Marketing, plus
   * an archived, an ended and an unapproved membership. Change one user's at run time with
   * `setMemberships`.
   */
  memberships?: SpaceEmulatorMembership[];
  /**
   * Scope elements of which one must be granted to list memberships (`**` always passes);
   * default `['global:Profile.Memberships.View', 'Profile.Memberships.View']`.
   */
  membershipScopes?: string[];
  /**
   * How many requests `requests` and `count()` remember: the log keeps the latest this many,
   * so a long run stays within bounded memory. Default 1000; `Infinity` keeps every request.
   */
  maxRecordedRequests?: number;
}

/** Options after defaults are applied and values are checked. */
export interface ResolvedOptions {
  port: number;
  host: string;
  clients: SpaceEmulatorClient[];
  users: SpaceEmulatorUser[];
  organization: { name: string; slogan: string | null };
  accessTokenTTL: number;
  codeTTL: number;
  rotateRefreshTokens: boolean;
  refreshTokens: 'while-none' | 'once' | 'every-exchange';
  autoApprove: readonly SpaceEmulatorUser[] | null;
  requirePKCE: boolean;
  acceptClientSecretPost: boolean;
  includeTokenType: boolean;
  includeScope: boolean;
  profileScopes: string[];
  organizationScopes: string[];
  listsWithoutFields: boolean;
  tls: { key: string | Buffer; cert: string | Buffer } | null;
  directory: ResolvedDirectory;
  membershipScopes: string[];
  maxRecordedRequests: number;
  orgDomain: string;
}

function fail(option: string, expected: string): never {
  throw new TypeError(`startSpaceEmulator: option "${option}" must be ${expected}`);
}

function bool(value: unknown, option: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(option, 'a boolean');
  return value;
}

function refreshTokenMode(value: unknown, everyExchange: boolean): ResolvedOptions['refreshTokens'] {
  if (value === undefined) return everyExchange ? 'every-exchange' : 'while-none';
  if (value !== 'while-none' && value !== 'once' && value !== 'every-exchange') fail('refreshTokens', "'while-none', 'once' or 'every-exchange'");
  if (everyExchange && value !== 'every-exchange') fail('refreshTokenOnEveryExchange', `left out when "refreshTokens" is '${value}'`);
  return value;
}

function seconds(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(option, 'a positive number of seconds');
  return value;
}

function scopeList(value: unknown, option: string, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) fail(option, 'an array of scope strings');
  return [...(value as string[])];
}

/** True if `uri` may be registered: the wildcard, or an absolute http(s) URL without fragment (RFC 6749 §3.1.2). */
function isRegistrableRedirectURI(uri: unknown): boolean {
  if (uri === ANY_LOCAL_REDIRECT_URI) return true;
  if (typeof uri !== 'string' || !URL.canParse(uri)) return false;
  const url = new URL(uri);
  return (url.protocol === 'http:' || url.protocol === 'https:') && !uri.includes('#');
}

/** Checks one client; throws a TypeError naming the field. */
export function checkClient(client: SpaceEmulatorClient, option = 'clients'): SpaceEmulatorClient {
  if (typeof client !== 'object' || client === null) fail(option, 'a list of { clientID, clientSecret?, redirectURIs }');
  if (typeof client.clientID !== 'string' || client.clientID === '') fail(`${option}[].clientID`, 'a non-empty string');
  if (client.clientSecret !== undefined && (typeof client.clientSecret !== 'string' || client.clientSecret === '')) {
    fail(`${option}[].clientSecret`, 'a non-empty string or absent (public client)');
  }
  if (client.name !== undefined && (typeof client.name !== 'string' || client.name === '')) fail(`${option}[].name`, 'a non-empty string');
  if (!Array.isArray(client.redirectURIs) || client.redirectURIs.length === 0 || !client.redirectURIs.every(isRegistrableRedirectURI)) {
    fail(`${option}[].redirectURIs`, `a non-empty list of absolute http(s) URIs without fragment, or '${ANY_LOCAL_REDIRECT_URI}'`);
  }
  return { ...client, redirectURIs: [...client.redirectURIs] };
}

function checkUser(user: SpaceEmulatorUser): SpaceEmulatorUser {
  if (typeof user !== 'object' || user === null) fail('users', 'a list of users');
  for (const key of ['id', 'username', 'firstName', 'lastName'] as const) {
    if (typeof user[key] !== 'string' || (key !== 'lastName' && user[key] === '')) fail(`users[].${key}`, 'a string');
  }
  if (user.id.includes('/')) fail('users[].id', 'free of "/"');
  if (user.emails !== undefined && (!Array.isArray(user.emails) || user.emails.some((e) => typeof e?.email !== 'string'))) {
    fail('users[].emails', 'a list of { email, verified? }');
  }
  return { ...user, emails: user.emails?.map((e) => ({ ...e })) };
}

/** Resolves `autoApprove`-style input to the users approved in turn; throws a TypeError for unknown names. */
export function resolveUser(users: readonly SpaceEmulatorUser[], value: unknown, option: string): readonly SpaceEmulatorUser[] | null {
  if (value === undefined || value === null) return null;
  const names: unknown[] = Array.isArray(value) ? value : [value];
  if (names.length === 0 || names.some((n) => typeof n !== 'string')) fail(option, 'a user id, a username, a non-empty list of them, or null');
  return names.map((name) => {
    const user = findUser(users, name as string);
    if (!user) fail(option, `the id or username of a known user (got "${String(name).slice(0, 60)}")`);
    return user;
  });
}

/** Applies defaults and checks every option once; a bad option throws a TypeError naming it. */
export function resolveOptions(options: SpaceEmulatorOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) fail('options', 'an object');
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('port', 'an integer from 0 to 65535');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') fail('host', 'a non-empty string');

  if (options.clients !== undefined && (!Array.isArray(options.clients) || options.clients.length === 0)) {
    fail('clients', 'a non-empty list');
  }
  const clients = (options.clients ?? defaultClients()).map((c) => checkClient(c));
  if (new Set(clients.map((c) => c.clientID)).size !== clients.length) fail('clients', 'a list with unique clientIDs');

  if (options.users !== undefined && !Array.isArray(options.users)) fail('users', 'a list');
  const users = (options.users ?? defaultUsers()).map(checkUser);
  if (new Set(users.map((u) => u.id)).size !== users.length) fail('users', 'a list with unique ids');
  if (new Set(users.map((u) => u.username)).size !== users.length) fail('users', 'a list with unique usernames');

  const org = options.organization ?? DEFAULT_ORGANIZATION;
  if (typeof org !== 'object' || org === null || typeof org.name !== 'string') fail('organization', 'an object { name, slogan? }');
  if (org.slogan !== undefined && typeof org.slogan !== 'string') fail('organization.slogan', 'a string');

  let tls: ResolvedOptions['tls'] = null;
  if (options.tls !== undefined) {
    if (typeof options.tls !== 'object' || options.tls === null || !options.tls.key || !options.tls.cert) fail('tls', 'an object { key, cert }');
    tls = { key: options.tls.key, cert: options.tls.cert };
  }

  const maxRecordedRequests = options.maxRecordedRequests ?? 1000;
  if (maxRecordedRequests !== Number.POSITIVE_INFINITY && (!Number.isInteger(maxRecordedRequests) || maxRecordedRequests < 1)) {
    fail('maxRecordedRequests', 'a positive integer or Infinity');
  }

  return {
    port,
    host,
    clients,
    users,
    organization: { name: org.name, slogan: org.slogan ?? null },
    accessTokenTTL: seconds(options.accessTokenTTL, 'accessTokenTTL', DEFAULT_ACCESS_TOKEN_TTL),
    codeTTL: seconds(options.codeTTL, 'codeTTL', DEFAULT_CODE_TTL),
    rotateRefreshTokens: bool(options.rotateRefreshTokens, 'rotateRefreshTokens', false),
    refreshTokens: refreshTokenMode(options.refreshTokens, bool(options.refreshTokenOnEveryExchange, 'refreshTokenOnEveryExchange', false)),
    autoApprove: resolveUser(users, options.autoApprove, 'autoApprove'),
    requirePKCE: bool(options.requirePKCE, 'requirePKCE', false),
    acceptClientSecretPost: bool(options.acceptClientSecretPost, 'acceptClientSecretPost', false),
    includeTokenType: bool(options.includeTokenType, 'includeTokenType', true),
    includeScope: bool(options.includeScope, 'includeScope', true),
    profileScopes: scopeList(options.profileScopes, 'profileScopes', ['global:Profile.View']),
    organizationScopes: scopeList(options.organizationScopes, 'organizationScopes', []),
    listsWithoutFields: bool(options.listsWithoutFields, 'listsWithoutFields', true),
    tls,
    directory: resolveDirectory(options, users),
    membershipScopes: scopeList(options.membershipScopes, 'membershipScopes', ['global:Profile.Memberships.View', 'Profile.Memberships.View']),
    maxRecordedRequests,
    orgDomain: typeof options.orgDomain === 'string' && options.orgDomain !== '' ? options.orgDomain : options.orgDomain === undefined ? 'acme' : fail('orgDomain', 'a non-empty string'),
  };
}
