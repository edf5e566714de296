import type { Request } from 'express';
import { Strategy as OAuth2Strategy } from 'passport-oauth2';
import { type ResolvedOptions, registerUnstarted, resolveOptions, SharedSettingsRegistry, signInCookieOf, withScope, type SpaceStrategyOptionsWithoutRequest, type SpaceStrategyOptionsWithRequest, type SpaceVerified, type SpaceVerify, type SpaceVerifyFunction, type SpaceVerifyFunctionWithParams, type SpaceVerifyFunctionWithRequest, type SpaceVerifyFunctionWithRequestAndParams, type SpaceVerifyWithRequest } from './config';
import { type SpaceApiCallOptions, SpaceClient, type SpaceProfile } from './space';
import { requestHost, requestPath } from './web';
import { SpaceRuntime } from './runtime';
import { guardStore, sessionOf } from './session';
import { withinLimit } from './rate-limits';
import { browserOf, completeSignIn, createSignInURL, gate, PendingStore, type SpaceAuthenticateOptions, startSignIn } from './signin';
import { keptRefreshToken, type SpaceTokenSet } from './tokens';

/**
 * "Sign in with JetBrains Space" for Passport: the authorization-code flow against your
 * organization's Space, with `state` and PKCE (S256) always on, HTTP Basic client
 * authentication, a timeout on every call, the profile from the team directory, and the
 * tokens kept server-side in the session.
 *
 * It extends passport-oauth2's `OAuth2Strategy` (so `instanceof` and the strategy hooks
 * `authorizationParams`/`tokenParams`/`userProfile` work as users expect) but replaces its
 * `authenticate` and its HTTP client; the parent's unused state is dropped
 * (docs/architecture.md).
 *
 * ```ts
 * passport.use(new SpaceStrategy({ spaceURL, clientID, clientSecret, callbackURL: '/auth/space/callback', redis },
 *   (accessToken, refreshToken, profile, done) => done(null, profile)));
 * ```
 */
export class SpaceStrategy extends OAuth2Strategy {
  /** The organization URL, without a trailing slash. */
  readonly spaceURL: string;
  /** Space's authorization endpoint, `<spaceURL>/oauth/auth`, normalized once. */
  readonly authURL: string;
  /** The settings shared with spaceTokenRefresh, spaceSignOut, spaceErrorHandler and spaceApi. */
  readonly shared: SharedSettingsRegistry;
  /** Space's OAuth and HTTP API client used by this strategy. */
  readonly client: SpaceClient;
  /** The path of `callbackURL`, worked out once: the gate compares it on every request. */
  readonly callbackPath: string;
  private readonly spaceVerify: SpaceVerify | SpaceVerifyWithRequest;
  /**
   * Holds the runtime once built. An object made in the constructor, because Passport runs
   * each request on `Object.create(strategy)`: a field set there would be that request's alone.
   */
  private readonly built: { runtime?: SpaceRuntime; pending?: PendingStore; make?: () => SpaceRuntime; settings?: Readonly<ResolvedOptions> } = {};

  constructor(options: SpaceStrategyOptionsWithoutRequest, verify: SpaceVerifyFunction);
  constructor(options: SpaceStrategyOptionsWithoutRequest, verify: SpaceVerifyFunctionWithParams);
  constructor(options: SpaceStrategyOptionsWithRequest, verify: SpaceVerifyFunctionWithRequest);
  constructor(options: SpaceStrategyOptionsWithRequest, verify: SpaceVerifyFunctionWithRequestAndParams);
  constructor(options: SpaceStrategyOptionsWithRequest | SpaceStrategyOptionsWithoutRequest, verify: SpaceVerify | SpaceVerifyWithRequest) {
    const { settings, shared } = resolveOptions(options);
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
    }, () => undefined);
    // passport-oauth2's HTTP client, state store and verify are replaced here: keep none of them.
    const parent = this as unknown as Record<string, unknown>;
    for (const field of ['_oauth2', '_stateStore', '_verify', '_callbackURL', '_scope', '_scopeSeparator', '_pkceMethod', '_key', '_trustProxy', '_passReqToCallback', '_skipUserProfile']) delete parent[field];
    this.name = 'space';
    this.spaceURL = settings.spaceURL;
    this.authURL = new URL(`${settings.spaceURL}/oauth/auth`).toString();
    this.built.settings = Object.freeze(settings);
    this.spaceVerify = verify;
    this.client = new SpaceClient(settings);
    this.callbackPath = new URL(settings.callbackURL, 'http://callback.invalid').pathname;
    this.shared = new SharedSettingsRegistry(settings.timeout);
    this.shared.add('SpaceStrategy', shared);
    // Bound to this instance, never to a request's Object.create() copy of it.
    this.built.make = () => new SpaceRuntime(this.shared.settings, {
      options: this.settings,
      client: this.client,
      refresh: (token, options) => this.refresh(token, options),
      revokeRefreshToken: (token, options) => this.revokeRefreshToken(token, options),
    });
    // Parts created at start-up without a strategy option may still add a scope (spaceAuthorize).
    registerUnstarted(this);
  }

  /** The strategy's own options after defaults (the scope may grow until the first request: {@link addScope}). */
  get settings(): Readonly<ResolvedOptions> {
    return this.built.settings!;
  }

  /**
   * Adds `scope` (space-separated) to what every sign-in asks Space for, if this strategy has not
   * served a request yet; returns false, changing nothing, once it has (its runtime is built and
   * what it asks for is fixed). spaceAuthorize uses it for `global:Profile.Memberships.View`.
   */
  addScope(scope: string): boolean {
    if (typeof scope !== 'string' || scope.trim() === '') throw new TypeError('SpaceStrategy.addScope requires a scope, e.g. "global:Profile.Memberships.View"');
    if (this.built.runtime) return false;
    const settings = this.built.settings!;
    const grown = withScope(settings.scope, scope);
    if (grown !== settings.scope) this.built.settings = Object.freeze({ ...settings, scope: grown });
    return true;
  }

  /** The library's per-strategy machinery, built from the shared settings on first use. */
  get runtime(): SpaceRuntime {
    if (!this.built.runtime) this.built.runtime = this.built.make!();
    return this.built.runtime;
  }

  /** The browsers' pending sign-ins (state, PKCE verifier, return path), in the runtime's store. */
  get pending(): PendingStore {
    if (!this.built.pending) {
      const runtime = this.runtime;
      this.built.pending = new PendingStore(runtime.kv, runtime.keys, runtime.settings.encryptionKeys, { max: this.settings.maxPendingSignIns, maxAge: this.settings.stateMaxAge });
    }
    return this.built.pending;
  }

  /** The path that starts a sign-in (shared setting `signInPath`). */
  get signInPath(): string {
    return this.shared.settings.signInPath;
  }

  /** Gate mode's public paths. */
  get publicPaths(): ReadonlyArray<string | RegExp> {
    return this.settings.publicPaths;
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
   * a gate for everything after it (see gate.ts).
   */
  override authenticate(req: Request, options: SpaceAuthenticateOptions = {}): void {
    if (!sessionOf(req)) {
      this.error(new Error('SpaceStrategy needs sessions: mount express-session (and passport.session()) before passport.authenticate(\'space\')'));
      return;
    }
    guardStore((req as unknown as { sessionStore?: unknown }).sessionStore, (event) => this.runtime.emit(event));
    if (req.route === undefined && options.gate !== false) gate(this, req, options);
    else if (this.isCallback(req)) this.completeSignIn(req, options, false);
    else this.startSignIn(req, options);
  }

  /**
   * @internal Used by the gate. A callback that carries a sign-in cookie (the only kind that reaches
   * Redis or Space: one without is refused at no cost) counts against the callback's rate limit;
   * over it, the answer is a 429 before the state is looked up.
   */
  completeSignIn(req: Request, options: SpaceAuthenticateOptions, inGate: boolean): void {
    const costly = browserOf(req, signInCookieOf(this)) !== undefined;
    (costly ? withinLimit(this.runtime, req, 'callback') : Promise.resolve(true))
      .then((ok) => (ok ? completeSignIn(this, req, options, inGate) : undefined))
      .catch((err: unknown) => this.error(err as Error));
  }

  /** @internal Used by the gate. Over the sign-in rate limit, the answer is a 429: nothing is stored. */
  startSignIn(req: Request, options: SpaceAuthenticateOptions): void {
    withinLimit(this.runtime, req, 'signIn')
      .then((ok) => (ok ? startSignIn(this, req, options) : undefined))
      .catch((err: unknown) => this.error(err as Error));
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

  /**
   * Records a pending sign-in (state, PKCE verifier, where to return) in the store, before
   * answering, sets the browser's sign-in cookie (`signInCookie`) on `req.res`, and returns the
   * `/oauth/auth` URL to send the browser to with that response. `authenticate()` uses it; so
   * can routes that start a sign-in themselves (spaceSignOut's `endSpaceSession`).
   */
  createSignInURL(req: Request, options: SpaceAuthenticateOptions = {}): Promise<string> {
    return createSignInURL(this, req, options);
  }

  /** @internal Calls the verify callback in the shape it was given (told apart by arity, as passport-oauth2 does; the overloads keep it type-checked). */
  callVerify(req: Request, tokens: SpaceTokenSet, params: Record<string, unknown>, profile: SpaceProfile, done: SpaceVerified): void {
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
   * internals. A new refresh token in the answer replaces the old one; none keeps it
   * (`keptRefreshToken`, the one place that rule lives).
   */
  async refresh(refreshToken: string, options: { scope?: string; signal?: AbortSignal } = {}): Promise<SpaceTokenSet> {
    if (typeof refreshToken !== 'string' || refreshToken === '') throw new TypeError('SpaceStrategy.refresh requires a refresh token');
    const answer = await this.client.refresh(refreshToken, options.scope ?? this.settings.scope, options.signal);
    const tokens = { ...answer.tokens };
    const kept = keptRefreshToken(tokens, refreshToken);
    if (kept) tokens.refreshToken = kept;
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

  /**
   * The tokens of a session's sign-in, if this process has them at hand (always once
   * spaceTokenRefresh() ran for the request; the session itself only names the sign-in).
   */
  tokensOf(session: object | undefined): SpaceTokenSet | undefined {
    const stored = this.runtime.session.read(session as Record<string, unknown> | undefined);
    return stored ? this.runtime.view(stored) : undefined;
  }
}
