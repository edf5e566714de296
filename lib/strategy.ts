import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import { SpaceAuthorizationError } from './errors';
import {
  resolveOptions,
  type ResolvedOptions,
  type SpaceStrategyOptionsWithoutRequest,
  type SpaceStrategyOptionsWithRequest,
  type SpaceVerified,
  type SpaceVerify,
  type SpaceVerifyFunction,
  type SpaceVerifyFunctionWithParams,
  type SpaceVerifyFunctionWithRequest,
  type SpaceVerifyFunctionWithRequestAndParams,
  type SpaceVerifyWithRequest,
} from './options';
import type { SpaceProfile } from './profile';
import { safeReturnTo } from './return-to';
import { SpaceClient, type SpaceApiCallOptions } from './space-client';
import { addPendingSignIn, randomToken, takePendingSignIn, type PendingSignIn } from './transactions';
import { publicView, type SpaceTokenSet, type StoredTokenSet } from './token-set';
import { keepTokensThroughLogIn, readTokens, sessionOf } from './session-tokens';
import { answerSignInFailed, answerUnauthenticated, isNavigation, isPublicPath, requestHost, requestPath } from './gate';

/** Per-call options of `passport.authenticate('space', options)`, besides Passport's own. */
export interface SpaceAuthenticateOptions {
  /** Scope for this sign-in, overriding the strategy's. */
  scope?: string | string[];
  /** Where to land after sign-in (a local path); also read from `?returnTo=` on the start route. */
  returnTo?: string;
  /** Space's login UI mode for this sign-in, e.g. `'required'` to force a fresh Space login. */
  requestCredentials?: 'default' | 'required' | 'skip' | 'silent';
  /** `online` or `offline` for this sign-in. */
  accessType?: 'offline' | 'online';
  /** Gate mode: more public paths for this mount, added to the strategy's `publicPaths`. */
  publicPaths?: Array<string | RegExp>;
  /** `false` turns gate mode off for a mount made with `app.use()`. */
  gate?: boolean;
  [passportOption: string]: unknown;
}

/** What `req.authInfo` holds after a Space sign-in. */
export interface SpaceAuthInfo {
  /** The local path the sign-in was started for, if any. */
  returnTo?: string;
  [key: string]: unknown;
}

type Challenge = { message: string };

/**
 * "Sign in with JetBrains Space" for Passport: the authorization-code flow against your
 * organization's Space, with `state` and PKCE (S256) always on, HTTP Basic client
 * authentication, a timeout on every call, the profile from the team directory, and the
 * tokens kept server-side in the session.
 *
 * ```ts
 * passport.use(new SpaceStrategy({ spaceURL, clientID, clientSecret, callbackURL: '/auth/space/callback' },
 *   (accessToken, refreshToken, profile, done) => done(null, profile)));
 * ```
 */
export class SpaceStrategy extends OAuth2Strategy {
  /** The organization URL, without a trailing slash. */
  readonly spaceURL: string;
  /** Options after defaults. */
  readonly settings: Readonly<ResolvedOptions>;
  /** Space's OAuth and HTTP API client used by this strategy. */
  readonly client: SpaceClient;
  private readonly spaceVerify: SpaceVerify | SpaceVerifyWithRequest;
  /** The path of `callbackURL`, worked out once: the gate compares it on every request. */
  private readonly callbackPath: string;

  constructor(options: SpaceStrategyOptionsWithoutRequest, verify: SpaceVerifyFunction);
  constructor(options: SpaceStrategyOptionsWithoutRequest, verify: SpaceVerifyFunctionWithParams);
  constructor(options: SpaceStrategyOptionsWithRequest, verify: SpaceVerifyFunctionWithRequest);
  constructor(options: SpaceStrategyOptionsWithRequest, verify: SpaceVerifyFunctionWithRequestAndParams);
  constructor(options: SpaceStrategyOptionsWithRequest | SpaceStrategyOptionsWithoutRequest, verify: SpaceVerify | SpaceVerifyWithRequest) {
    const settings = resolveOptions(options);
    if (typeof verify !== 'function') {
      throw new TypeError('SpaceStrategy requires a verify callback, e.g. (accessToken, refreshToken, profile, done) => done(null, profile)');
    }
    super({
      authorizationURL: `${settings.spaceURL}/oauth/auth`,
      tokenURL: `${settings.spaceURL}/oauth/token`,
      clientID: settings.clientID,
      clientSecret: settings.clientSecret,
      callbackURL: settings.callbackURL,
      scope: settings.scope,
      state: true,
      pkce: true,
    }, () => undefined);
    this.name = 'space';
    this.spaceURL = settings.spaceURL;
    this.settings = Object.freeze(settings);
    this.spaceVerify = verify;
    this.client = new SpaceClient(settings);
    this.callbackPath = new URL(settings.callbackURL, 'http://callback.invalid').pathname;
  }

  /**
   * Extra parameters for `/oauth/auth`. Overridable; `state`, `client_id`, `redirect_uri`
   * and the PKCE parameters are always set by the strategy and cannot be replaced here.
   */
  override authorizationParams(options: SpaceAuthenticateOptions): Record<string, string> {
    const params: Record<string, string> = { access_type: options.accessType ?? this.settings.accessType };
    const credentials = options.requestCredentials ?? this.settings.requestCredentials;
    if (credentials) params.request_credentials = credentials;
    return params;
  }

  /**
   * Passport's `authenticate`. On a route (`app.get('/auth/space', passport.authenticate('space'))`)
   * it starts a sign-in, or completes one on the callback. Mounted with `app.use(...)` it is
   * a gate for everything after it: see {@link SpaceStrategy.guard}.
   */
  override authenticate(req: Request, options: SpaceAuthenticateOptions = {}): void {
    if (!sessionOf(req)) {
      this.error(new Error('SpaceStrategy needs sessions: mount express-session (and passport.session()) before passport.authenticate(\'space\')'));
      return;
    }
    if (req.route === undefined && options.gate !== false) {
      this.guard(req, options);
    } else if (this.isCallback(req)) {
      this.completeSignIn(req, options, false).catch((err: unknown) => this.error(err as Error));
    } else {
      this.startSignIn(req, options);
    }
  }

  /**
   * Gate mode, for `app.use(passport.authenticate('space'))`: signed-in requests and public
   * paths pass untouched; the callback path completes the sign-in in place and lands on the
   * URL first asked for; `signInPath` starts a sign-in; other page navigations go to
   * Space (remembering where they were going); anything else (API calls, images, fetch())
   * gets 401 JSON.
   */
  protected guard(req: Request, options: SpaceAuthenticateOptions): void {
    const path = requestPath(req);
    const res = req.res!;
    const signedIn = typeof req.isAuthenticated === 'function' && req.isAuthenticated();
    if (path === this.callbackPath) {
      this.completeSignIn(req, options, true).catch((err: unknown) => this.error(err as Error));
      return;
    }
    if (path === this.settings.signInPath && (req.method === 'GET' || req.method === 'HEAD')) {
      const returnTo = safeReturnTo((req.query as Record<string, unknown>).returnTo);
      if (signedIn) return void res.redirect(returnTo ?? String(options.successRedirect ?? '/'));
      return this.startSignIn(req, { ...options, returnTo });
    }
    if (signedIn) return this.pass();
    const publicPaths = [...this.settings.publicPaths, ...((options.publicPaths as Array<string | RegExp> | undefined) ?? [])];
    if (isPublicPath(path, publicPaths)) return this.pass();
    if (!isNavigation(req)) return answerUnauthenticated(res, this.settings.signInPath);
    this.startSignIn(req, { ...options, returnTo: req.originalUrl });
  }

  /**
   * The callback URL for this request. A relative `callbackURL` is resolved against the
   * request the way Express sees it: `X-Forwarded-Proto`/`X-Forwarded-Host` count only
   * when `trust proxy` trusts the peer.
   */
  redirectURI(req: Request): string {
    const cb = this.settings.callbackURL;
    return cb.startsWith('/') ? `${req.protocol}://${requestHost(req)}${cb}` : cb;
  }

  private isCallback(req: Request): boolean {
    if (requestPath(req) === this.callbackPath) return true;
    // Mounted on a route whose path differs from callbackURL (e.g. behind a path-rewriting
    // proxy): fall back to passport-oauth2's rule, a code or an error in the query.
    const q = req.query as Record<string, unknown>;
    return Boolean(req.route) && (q.code !== undefined || q.error !== undefined);
  }

  private startSignIn(req: Request, options: SpaceAuthenticateOptions): void {
    req.res?.set('Cache-Control', 'no-store');
    this.redirect(this.createSignInURL(req, options));
  }

  /**
   * Records a pending sign-in (state, PKCE verifier, where to return) in the session and
   * returns the `/oauth/auth` URL to send the browser to. `authenticate()` uses it; so can
   * routes that start a sign-in themselves (spaceSignOut's `endSpaceSession` does).
   */
  createSignInURL(req: Request, options: SpaceAuthenticateOptions = {}): string {
    const session = sessionOf(req);
    if (!session) throw new Error('SpaceStrategy needs sessions: mount express-session before starting a sign-in');
    const redirectURI = this.redirectURI(req);
    const verifier = randomToken();
    const scopeOption = options.scope ?? this.settings.scope;
    const scope = Array.isArray(scopeOption) ? scopeOption.join(' ') : scopeOption;
    const signIn: PendingSignIn = { verifier, redirectURI, scope, createdAt: Date.now() };
    const returnTo = safeReturnTo(options.returnTo ?? (req.query as Record<string, unknown>).returnTo);
    if (returnTo) signIn.returnTo = returnTo;
    const state = addPendingSignIn(session, this.settings.sessionKey, signIn, this.settings.maxPendingSignIns, this.settings.stateMaxAge);

    const url = new URL(`${this.spaceURL}/oauth/auth`);
    for (const [name, value] of Object.entries(this.authorizationParams(options))) url.searchParams.set(name, value);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.settings.clientID);
    url.searchParams.set('redirect_uri', redirectURI);
    url.searchParams.set('scope', scope);
    url.searchParams.set('state', state);
    // Space treats a missing code_challenge_method as "plain" (SPACE-API.md §2): always say S256.
    url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
    url.searchParams.set('code_challenge_method', 'S256');
    return url.toString();
  }

  private async completeSignIn(req: Request, options: SpaceAuthenticateOptions, gate: boolean): Promise<void> {
    const query = req.query as Record<string, unknown>;
    // The callback URL carries a code: keep it out of caches and Referer headers
    // (RFC 9700 §4.2.4, §4.3).
    req.res?.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
    const fail = (challenge: Challenge, status: number): void => {
      if (!gate || options.failureRedirect) return this.fail(challenge, status);
      answerSignInFailed(req, req.res!, status, challenge.message, this.settings.signInPath);
    };
    // RFC 6749 §3.1: parameters must not be repeated. With Express's parser a repeated
    // parameter arrives as an array (or an object for `a[b]=`): refuse before anything else.
    for (const name of ['code', 'state', 'error', 'error_description']) {
      if (query[name] !== undefined && typeof query[name] !== 'string') {
        return fail({ message: `Malformed sign-in callback: "${name}" is repeated or not a plain value` }, 400);
      }
    }
    const taken = takePendingSignIn(sessionOf(req)!, this.settings.sessionKey,
      query.state, Date.now(), this.settings.stateMaxAge);
    if (!taken.ok) {
      // A callback replayed by the back button of a signed-in user: just go home.
      if (gate && taken.reason !== 'missing' && typeof req.isAuthenticated === 'function' && req.isAuthenticated()) {
        return void req.res!.redirect(String(options.successRedirect ?? '/'));
      }
      return fail(stateChallenge(taken.reason), 403);
    }
    const { signIn } = taken;

    if (query.error !== undefined) {
      // The state matched, so this error really comes from the sign-in this browser started.
      if (query.error === 'access_denied') return fail({ message: 'Sign-in was cancelled in Space' }, 401);
      const error = String(query.error).slice(0, 100);
      const description = typeof query.error_description === 'string' ? query.error_description.slice(0, 300) : undefined;
      return this.error(new SpaceAuthorizationError(
        `Space refused the sign-in: ${error}${description ? `: "${description}"` : ''}`,
        { code: 'SPACE_AUTHORIZATION_FAILED', error, errorDescription: description },
      ));
    }
    if (typeof query.code !== 'string' || query.code === '') {
      return fail({ message: 'Sign-in callback has no code' }, 400);
    }

    const answer = await this.client.exchangeCode({
      code: query.code,
      verifier: signIn.verifier,
      redirectURI: signIn.redirectURI,
      scope: signIn.scope,
      extra: this.tokenParams(options) as Record<string, string>,
    });
    const profile = this.settings.skipUserProfile
      ? ({ provider: 'space' } as SpaceProfile)
      : await this.client.profile(answer.tokens.accessToken, this.settings.profileFields);

    const stored: StoredTokenSet = { ...answer.tokens, issuedAt: answer.issuedAt, grant: randomToken(), version: 1 };
    const verified: SpaceVerified = (err, user, info) => {
      if (err) return this.error(err as Error);
      if (!user) return fail((info ?? { message: 'The verify callback refused the user' }) as Challenge, 403);
      const authInfo: SpaceAuthInfo = { ...(info as object | undefined) };
      if (signIn.returnTo) authInfo.returnTo = signIn.returnTo;
      keepTokensThroughLogIn(req, this.settings.sessionKey, stored, signIn.returnTo);
      if (!gate) return this.success(user, authInfo);
      // Gate mode: nothing after this middleware handles the callback path, so land the
      // user on the page first asked for here.
      req.logIn(user, (err?: unknown) => {
        if (err) return this.error(err as Error);
        const session = sessionOf(req);
        if (session) delete session.returnTo;
        req.res!.redirect(signIn.returnTo ?? String(options.successRedirect ?? '/'));
      });
    };
    this.callVerify(req, answer.tokens, answer.params, profile, verified);
  }

  private callVerify(req: Request, tokens: SpaceTokenSet, params: Record<string, unknown>, profile: SpaceProfile, done: SpaceVerified): void {
    // passport-oauth2's callback shapes, told apart by arity as it does; the overloads on
    // the constructor keep them type-checked.
    const verify = this.spaceVerify as (...args: unknown[]) => void;
    const args: unknown[] = [tokens.accessToken, tokens.refreshToken];
    const withParams = this.settings.passReqToCallback ? verify.length === 6 : verify.length === 5;
    if (withParams) args.push(params);
    args.push(profile, done);
    if (this.settings.passReqToCallback) args.unshift(req);
    try {
      verify(...args);
    } catch (err) {
      this.error(err as Error);
    }
  }

  /**
   * Renews tokens with a refresh token (RFC 6749 §6), HTTP Basic client authentication and
   * the granted scope. Public so that middleware never reaches into passport-oauth2's
   * internals. A new refresh token in the answer replaces the old one; none keeps it.
   */
  async refresh(refreshToken: string, options: { scope?: string; signal?: AbortSignal } = {}): Promise<SpaceTokenSet> {
    if (typeof refreshToken !== 'string' || refreshToken === '') throw new TypeError('SpaceStrategy.refresh requires a refresh token');
    const answer = await this.client.refresh(refreshToken, options.scope ?? this.settings.scope, options.signal);
    const tokens = { ...answer.tokens };
    if (!tokens.refreshToken) tokens.refreshToken = refreshToken;
    return tokens;
  }

  /**
   * Revokes the refresh token behind `accessToken` at Space
   * (`DELETE .../oauth-consents/me/refresh-tokens/self`), so the grant dies there too.
   */
  revokeRefreshToken(accessToken: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.client.revokeRefreshToken(accessToken, options.signal);
  }

  /** The signed-in user's normalized profile, from `/api/http/team-directory/profiles/me`. */
  fetchProfile(accessToken: string): Promise<SpaceProfile> {
    return this.client.profile(accessToken, this.settings.profileFields);
  }

  /** passport-oauth2's profile hook, kept for callers that use it directly. */
  override userProfile(accessToken: string, done: (err?: unknown, profile?: SpaceProfile) => void): void {
    this.fetchProfile(accessToken).then((p) => done(null, p), (err: unknown) => done(err));
  }

  /** Calls Space's HTTP API (`/api/http/<path>`) with `accessToken`. */
  callApi(accessToken: string, method: string, path: string, options?: SpaceApiCallOptions) {
    return this.client.api(accessToken, method, path, options);
  }

  /** The tokens kept in a session by this strategy, if any. */
  tokensOf(session: object | undefined): SpaceTokenSet | undefined {
    const stored = readTokens(session as Record<string, unknown> | undefined, this.settings.sessionKey);
    return stored ? publicView(stored) : undefined;
  }
}

function stateChallenge(reason: 'missing' | 'malformed' | 'unknown' | 'expired'): Challenge {
  switch (reason) {
    case 'missing': return { message: 'Sign-in callback has no state; start signing in again' };
    case 'malformed': return { message: 'Sign-in callback has a malformed state; start signing in again' };
    case 'expired': return { message: 'Sign-in took too long; start signing in again' };
    default: return { message: 'Sign-in state does not match a sign-in started in this browser (already used, expired, started elsewhere, or cookies are blocked); start signing in again' };
  }
}
