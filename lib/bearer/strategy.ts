import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import { Strategy as PassportStrategy } from 'passport';
import { claimsProblem, cloudOrgDomain, parseJwt, type OrganizationRule } from './jwt';
import { isSpaceError, number, onlyKnown, SpaceApiError, spaceURLWithoutPath, TtlCache } from '../core';
import { callSpace, DEFAULT_PROFILE_FIELDS, isRecord, KeySet, parseJSON, rs512, SpaceClient, type SpaceProfile } from '../space';
import type { SpaceStrategy } from '../strategy';
import { audit, auditing, countUnavailable } from '../telemetry';
import { describeAgent } from '../members';
import { requestPath } from '../web';

/** A member of the organization, as sign-in normalizes them, marked as a user. */
export interface SpaceUserPrincipal extends SpaceProfile {
  principal: 'user';
}

/** An application calling with its own token (Client Credentials or an application permanent token). */
export interface SpaceApplicationPrincipal {
  provider: 'space';
  principal: 'application';
  /** The application's client id. */
  id: string;
  /** The application's name. */
  displayName: string;
  /** Space's id of the application (not the client id), when Space said it. */
  applicationId?: string;
  _json: Record<string, unknown>;
}

/** Who a bearer token belongs to, as Space confirmed it: `req.user` unless a verify callback maps it. */
export type SpaceBearerPrincipal = SpaceUserPrincipal | SpaceApplicationPrincipal;

/** What `req.authInfo` holds after a bearer sign-in. */
export interface SpaceBearerInfo {
  principal: 'user' | 'application';
  /** True for a permanent (personal or application) token: revocable, maybe without expiry. */
  permanent: boolean;
  /** The token's `exp` as epoch ms; absent for tokens that never expire. */
  expiresAt?: number;
  /** The token's `scope` claim, when it has one. */
  scope?: string;
}

/** Passport's `done` for the verify callback. */
type Done = (err: unknown, user?: Express.User | false | null, info?: object) => void;
/** `(principal, done)`; call `done(null, user)` to accept, `done(null, false)` to refuse (403). */
export type SpaceBearerVerify = (principal: SpaceBearerPrincipal, done: Done) => void;
/** `(req, principal, done)`, with `passReqToCallback: true`. */
export type SpaceBearerVerifyWithRequest = (req: Request, principal: SpaceBearerPrincipal, done: Done) => void;

/** Options of {@link SpaceBearerStrategy}. */
export interface SpaceBearerOptions {
  /** Your organization's Space URL. Or give `strategy`. */
  spaceURL?: string;
  /** The sign-in strategy, for its Space URL, timeout and profile fields. */
  strategy?: SpaceStrategy;
  /** How long Space's online confirmation of a token is reused, ms; a revoked token works at most this long. Default 60000. */
  confirmTTL?: number;
  /** Timeout of every call to Space, ms. Default the strategy's, else 10000. */
  timeout?: number;
  /** Accepted `iss` values. Default the Space URL's origin and `https://jetbrains.space` (older tokens). */
  issuers?: string[];
  /** Required `orgDomain` claim; `false` skips the check. Default `<org>` of `https://<org>.jetbrains.space`, else skipped. */
  orgDomain?: string | false;
  /** Which principals may call; default both. */
  principals?: Array<'user' | 'application'>;
  /** `$fields` of the profile read for user tokens. Default the strategy's, else the sign-in default. */
  profileFields?: string;
  /** Leeway for `exp`/`nbf`, ms. Default 0. */
  clockTolerance?: number;
  /** Fewest ms between JWKS fetches caused by an unknown key; also the longest pause after failed fetches (1 s, doubling). Default 30000. */
  jwksRefetchInterval?: number;
  /** The JWKS is fetched again when older than this, ms; while that fails, the keys held keep serving (up to a day more). Default 1 hour. */
  jwksMaxAge?: number;
  /**
   * Seconds in `Retry-After` when Space cannot be reached; also how long a failed confirmation of
   * one token is answered again (503) without asking Space. Default 5.
   */
  retryAfter?: number;
  /** Pass the request as first argument to the verify callback. */
  passReqToCallback?: boolean;
}

/** Every option name SpaceBearerStrategy accepts; any other is a TypeError. */
export const BEARER_OPTION_NAMES = [
  'spaceURL', 'strategy', 'confirmTTL', 'timeout', 'issuers', 'orgDomain', 'principals', 'profileFields', 'clockTolerance',
  'jwksRefetchInterval', 'jwksMaxAge', 'retryAfter', 'passReqToCallback',
] as const;

/** Per-call options of `passport.authenticate('space-bearer', options)`. */
export interface SpaceBearerAuthenticateOptions {
  /** Must be `false`: a bearer token never becomes a session. */
  session?: boolean;
  /** Without an `Authorization: Bearer` header, pass the request on unauthenticated (for a cookie sign-in behind). */
  optional?: boolean;
  [passportOption: string]: unknown;
}

type Confirmation = { ok: true; principal: SpaceBearerPrincipal } | { ok: false; description: string };

const REALM = 'Space';
const BEARER = /^Bearer +([^\s]+) *$/i;

function bad(name: string, expected: string): never {
  throw new TypeError(`SpaceBearerStrategy option "${name}" must be ${expected}`);
}

const millis = (value: unknown, name: string, fallback: number, min = 0): number => number('SpaceBearerStrategy', name, value, { min }) ?? fallback;

/**
 * Passport strategy `'space-bearer'` for APIs called with a Space token in
 * `Authorization: Bearer` (RFC 6750): a member's OAuth token, the application's own token, or a
 * personal or application permanent token. JWTs are checked offline against `<Space>/oauth/jwks.json`
 * (RS512 only, `exp` when present, the organization), then confirmed online through
 * `team-directory/profiles/me` (users) or `applications/me` (applications), a confirmation reused
 * for `confirmTTL`: that is how a revoked permanent token, which may never expire, stops working.
 * Refusals are 401 JSON with a `WWW-Authenticate` challenge, Space unreachable is 503; never a redirect.
 *
 * ```ts
 * passport.use(new SpaceBearerStrategy({ spaceURL }));
 * app.use('/api', passport.authenticate('space-bearer', { session: false }));
 * ```
 */
export class SpaceBearerStrategy extends PassportStrategy {
  override name = 'space-bearer';
  readonly spaceURL: string;
  private readonly client: SpaceClient;
  private readonly keys: KeySet;
  private readonly confirmations = new TtlCache<Confirmation>(10_000);
  private readonly org: OrganizationRule;
  private readonly confirmTTL: number;
  private readonly tolerance: number;
  private readonly retryAfter: number;
  private readonly principals: ReadonlySet<string>;
  private readonly profileFields: string;
  private readonly passReq: boolean;
  /** The sign-in strategy, when given: its runtime's `onAudit` hears of refused tokens. */
  private readonly signIn: SpaceStrategy | undefined;

  constructor(options: SpaceBearerOptions & { passReqToCallback?: false }, verify?: SpaceBearerVerify);
  constructor(options: SpaceBearerOptions & { passReqToCallback: true }, verify: SpaceBearerVerifyWithRequest);
  constructor(options: SpaceBearerOptions, verify?: SpaceBearerVerify | SpaceBearerVerifyWithRequest);
  constructor(options: SpaceBearerOptions, private readonly verify?: SpaceBearerVerify | SpaceBearerVerifyWithRequest) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError('SpaceBearerStrategy requires options, e.g. { spaceURL }');
    onlyKnown('SpaceBearerStrategy', options, BEARER_OPTION_NAMES);
    if (verify !== undefined && typeof verify !== 'function') bad('verify', 'a function (principal, done) or absent');
    const settings = options.strategy?.settings;
    if (options.strategy !== undefined && !settings) bad('strategy', 'a SpaceStrategy');
    const rawURL = options.spaceURL ?? settings?.spaceURL;
    if (typeof rawURL !== 'string' || !URL.canParse(rawURL)) bad('spaceURL', 'an absolute URL like "https://acme.jetbrains.space" (or pass "strategy")');
    spaceURLWithoutPath('SpaceBearerStrategy', rawURL);
    this.spaceURL = rawURL.replace(/\/+$/, '');
    const timeout = millis(options.timeout, 'timeout', settings?.timeout ?? 10_000, 1);
    this.client = options.strategy && options.timeout === undefined
      ? options.strategy.client
      : new SpaceClient({ spaceURL: this.spaceURL, clientID: settings?.clientID ?? '', clientSecret: settings?.clientSecret ?? '', timeout });
    this.confirmTTL = millis(options.confirmTTL, 'confirmTTL', 60_000);
    this.tolerance = millis(options.clockTolerance, 'clockTolerance', 0);
    this.retryAfter = Math.ceil(millis(options.retryAfter, 'retryAfter', 5, 1));
    const issuers = options.issuers ?? [new URL(this.spaceURL).origin, 'https://jetbrains.space'];
    if (!Array.isArray(issuers) || issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')) bad('issuers', 'a non-empty list of URLs');
    const orgDomain = options.orgDomain === undefined ? cloudOrgDomain(this.spaceURL) : options.orgDomain === false ? undefined : options.orgDomain;
    if (orgDomain !== undefined && (typeof orgDomain !== 'string' || orgDomain === '')) bad('orgDomain', 'a non-empty string or false');
    this.org = { issuers: issuers.map((i) => i.replace(/\/+$/, '')), orgDomain };
    const principals = options.principals ?? ['user', 'application'];
    if (!Array.isArray(principals) || principals.length === 0 || principals.some((p) => p !== 'user' && p !== 'application')) {
      bad('principals', 'a non-empty list of "user" and/or "application"');
    }
    this.principals = new Set(principals);
    this.profileFields = options.profileFields ?? settings?.profileFields ?? DEFAULT_PROFILE_FIELDS;
    this.passReq = options.passReqToCallback === true;
    this.signIn = options.strategy;
    const jwksURL = new URL(`${this.spaceURL}/oauth/jwks.json`);
    this.keys = new KeySet({
      minRefetchInterval: millis(options.jwksRefetchInterval, 'jwksRefetchInterval', 30_000),
      maxAge: millis(options.jwksMaxAge, 'jwksMaxAge', 3_600_000),
      fetch: async () => {
        const call = { method: 'GET', url: jwksURL, headers: { accept: 'application/json' }, timeout, what: 'Space JWKS endpoint', errorClass: SpaceApiError, agents: this.client.agents };
        const answer = await callSpace(call);
        if (answer.status !== 200) {
          throw new SpaceApiError(`Space JWKS endpoint answered ${answer.status} (GET ${jwksURL.origin}${jwksURL.pathname})`, {
            code: answer.status >= 500 || answer.status === 429 ? 'SPACE_UNAVAILABLE' : 'SPACE_INVALID_RESPONSE', status: answer.status,
          });
        }
        return parseJSON(answer.text);
      },
    });
  }

  override authenticate(req: Request, options: SpaceBearerAuthenticateOptions = {}): void {
    if (options.session !== false) {
      this.error(new Error('Mount SpaceBearerStrategy with { session: false }: passport.authenticate(\'space-bearer\', { session: false })'));
      return;
    }
    const res = req.res!;
    const header = req.headers.authorization;
    if (typeof header !== 'string' || !/^Bearer(\s|$)/i.test(header)) {
      if (options.optional) return this.pass();
      return answerMissing(res);
    }
    const token = BEARER.exec(header)?.[1];
    if (!token) return this.refuse(res, 'The Authorization header is not of the form Bearer <token>');
    this.check(req, res, token).catch((err: unknown) => this.error(err as Error));
  }

  private async check(req: Request, res: Response, token: string): Promise<void> {
    const jwt = parseJwt(token);
    if (!jwt) return this.refuse(res, 'The access token is malformed');
    // Pin the algorithm: the token never chooses it (RFC 8725 §3.1).
    if (jwt.header.alg !== 'RS512') return this.refuse(res, 'The access token is not signed with RS512');
    let signed: boolean;
    try {
      signed = await this.keys.find(rs512(jwt.data, jwt.signature));
    } catch (err) {
      return this.unavailable(res, err);
    }
    if (!signed) return this.refuse(res, 'The access token signature is not valid');
    const problem = claimsProblem(jwt.claims, this.org, Date.now(), this.tolerance);
    if (problem) return this.refuse(res, problem);
    const kind = jwt.claims.principal_type === 'SERVICE' ? 'application' : 'user';
    if (!this.principals.has(kind)) return this.refuse(res, `A ${kind} token is not accepted here`);

    const exp = typeof jwt.claims.exp === 'number' ? jwt.claims.exp * 1000 : undefined;
    let confirmed: Confirmation;
    try {
      const key = createHash('sha256').update(token).digest('base64url');
      confirmed = await this.confirmations.get(key, async () => {
        const value = await this.confirm(token, kind, String(jwt.claims.sub));
        return { value, expiresAt: Math.min(Date.now() + this.confirmTTL, exp ?? Number.POSITIVE_INFINITY) };
      }, (err) => this.pauseAfter(err));
    } catch (err) {
      return this.unavailable(res, err);
    }
    if (!confirmed.ok) return this.refuse(res, confirmed.description);
    const info: SpaceBearerInfo = { principal: kind, permanent: typeof jwt.claims.perm_token === 'string' };
    if (exp !== undefined) info.expiresAt = exp;
    if (typeof jwt.claims.scope === 'string') info.scope = jwt.claims.scope;
    this.finish(req, res, confirmed.principal, info);
  }

  /** Asks Space who the token belongs to; a refusal by Space is a result, an outage a rejection. */
  private async confirm(token: string, kind: 'user' | 'application', subject: string): Promise<Confirmation> {
    try {
      if (kind === 'user') {
        const profile = await this.client.profile(token, this.profileFields);
        if (profile.id !== subject) return { ok: false, description: 'Space named another user for this token' };
        return { ok: true, principal: { ...profile, principal: 'user' } };
      }
      const { json } = await this.client.api(token, 'GET', 'applications/me');
      if (!isRecord(json) || json.clientId !== subject) return { ok: false, description: 'Space named another application for this token' };
      const principal: SpaceApplicationPrincipal = {
        provider: 'space', principal: 'application', id: subject,
        displayName: typeof json.name === 'string' ? json.name.slice(0, 256) : subject, _json: json,
      };
      if (typeof json.id === 'string') principal.applicationId = json.id;
      return { ok: true, principal };
    } catch (err) {
      if (isSpaceError(err) && err.code === 'SPACE_REJECTED') return { ok: false, description: 'Space does not accept this token (revoked or not valid)' };
      throw err;
    }
  }

  private finish(req: Request, res: Response, principal: SpaceBearerPrincipal, info: SpaceBearerInfo): void {
    if (!this.verify) return this.success(principal as Express.User, info);
    const done: Done = (err, user) => {
      if (err) return this.error(err as Error);
      if (!user) {
        res.status(403).set('Cache-Control', 'no-store').json({ error: 'forbidden', error_description: 'This principal may not use this API' });
        return;
      }
      this.success(user, info);
    };
    try {
      if (this.passReq) (this.verify as SpaceBearerVerifyWithRequest)(req, principal, done);
      else (this.verify as SpaceBearerVerify)(principal, done);
    } catch (err) {
      this.error(err as Error);
    }
  }

  /** 401 `invalid_token` (RFC 6750 §3.1); the description is always one of our fixed texts. */
  private refuse(res: Response, description: string): void {
    const runtime = this.signIn?.runtime;
    if (auditing(runtime)) {
      audit(runtime, { type: 'bearer_refused', outcome: 'failure', reason: description, browser: describeAgent(res.req.get('user-agent')), path: requestPath(res.req) });
    }
    // RFC 6750 §3: no quote or backslash inside the quoted string.
    const quoted = description.replace(/["\\]/g, '');
    res.status(401).set({
      'WWW-Authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${quoted}"`,
      'Cache-Control': 'no-store',
    }).json({ error: 'invalid_token', error_description: description });
  }

  /**
   * How long a failed confirmation is given again without asking Space (ms): `retryAfter`, or
   * Space's `Retry-After` when longer (at most a minute), so a client retrying at once during an
   * outage does not cost Space one call per request. Not for a bug (not a SpaceError).
   */
  private pauseAfter(err: unknown): number {
    if (!isSpaceError(err)) return 0;
    return Math.max(this.retryAfter, Math.min(err.retryAfter ?? 0, 60)) * 1000;
  }

  /** 503 when Space failed us; anything that is not a SpaceError is a bug and goes to Express. */
  private unavailable(res: Response, err: unknown): void {
    if (!isSpaceError(err)) throw err;
    // Space's own Retry-After (or what is left of a pause), but never "at once".
    const retryAfter = Math.max(1, isSpaceError(err) && err.retryAfter !== undefined ? err.retryAfter : this.retryAfter);
    countUnavailable('space');
    res.status(503).set({ 'Retry-After': String(retryAfter), 'Cache-Control': 'no-store' })
      .json({ error: 'temporarily_unavailable', error_description: 'Space could not be reached to check the access token; try again shortly' });
  }
}

/** No credentials at all: a challenge without an error code (RFC 6750 §3.1). */
function answerMissing(res: Response): void {
  res.status(401).set({ 'WWW-Authenticate': `Bearer realm="${REALM}"`, 'Cache-Control': 'no-store' })
    .json({ error: 'unauthenticated', error_description: 'Send a Space access token: Authorization: Bearer <token>' });
}
