import type { Request } from 'express';
import { DEFAULT_PROFILE_FIELDS, type SpaceProfile } from '../space';
import { SHARED_OPTION_NAMES, checkShared, type SpaceSharedOptions } from './shared-settings';
import { boolean, localPath, number, oneOf, onlyKnown, requireString, spaceURLWithoutPath } from '../core';

/**
 * Options of {@link SpaceStrategy}. Checked once, in the constructor. The shared settings
 * ({@link SpaceSharedOptions}: `redis`, `keyPrefix`, `encryptionKeys`, timings, paths) are
 * best given here, once: spaceTokenRefresh, spaceSignOut, spaceErrorHandler and spaceApi
 * read them from the strategy.
 */
export interface SpaceStrategyOptions extends SpaceSharedOptions {
  /**
   * Your organization's Space URL, e.g. `https://acme.jetbrains.space` (On-Premises: your own host):
   * the origin only; a URL with a path (a page of Space, `/p/<project>`) is a TypeError.
   */
  spaceURL: string;
  /** The application's client ID (Space: Applications → your app → Authentication). */
  clientID: string;
  /** The application's client secret. Sent only in the `Authorization: Basic` header. */
  clientSecret: string;
  /**
   * Where Space sends the browser back, registered as a redirect URI of the app. A relative
   * path is resolved against the incoming request (honouring Express's `trust proxy`).
   * Use an absolute URL in production so that a Host header can never change it.
   */
  callbackURL: string;
  /** Permission scope, a string (space-separated) or an array. Default `global:Profile.View`. */
  scope?: string | string[];
  /** `offline` (default) asks for a refresh token; `online` does not. */
  accessType?: 'offline' | 'online';
  /** Space's login UI mode (`default`, `required`, `skip`, `silent`); not sent unless set. */
  requestCredentials?: 'default' | 'required' | 'skip' | 'silent';
  /** `$fields` asked of the profile API. Default {@link DEFAULT_PROFILE_FIELDS}. */
  profileFields?: string;
  /** Timeout of every outbound call to Space, in milliseconds. Default 10000. */
  timeout?: number;
  /** Skip the profile call (the verify callback then gets an empty profile). Default false. */
  skipUserProfile?: boolean;
  /** Where pending sign-ins and tokens live in `req.session`. Default `'space'`. */
  sessionKey?: string;
  /** Pending sign-ins older than this are refused, in milliseconds. Default 10 minutes. */
  stateMaxAge?: number;
  /** At most this many sign-ins may be pending in one browser (the oldest is dropped). Default 10. */
  maxPendingSignIns?: number;
  /**
   * Name of the cookie that ties a browser's pending sign-ins to it, from the start route to the
   * callback (a random value, HttpOnly, SameSite=Lax, Path=/, removed when the browser has no
   * sign-in pending, else gone after `stateMaxAge`). Default `'<strategy name>.signin'`:
   * `'space.signin'`, and a strategy of its own name for each further Space organization.
   */
  signInCookie?: string;
  /** Pass the request as first argument to the verify callback. Default false. */
  passReqToCallback?: boolean;
  /**
   * Gate mode (`app.use(passport.authenticate('space'))`): paths let through without
   * sign-in. A string is an exact path, or a prefix when it ends with "/" (`'/static/'`);
   * a RegExp is tested against the path. Default: none.
   */
  publicPaths?: Array<string | RegExp>;
}

export interface SpaceStrategyOptionsWithRequest extends SpaceStrategyOptions {
  passReqToCallback: true;
}

export interface SpaceStrategyOptionsWithoutRequest extends SpaceStrategyOptions {
  passReqToCallback?: false;
}

/** The token endpoint's answer, as passport-oauth2 passes it to five-argument verify callbacks. */
export type SpaceTokenParams = Record<string, unknown>;

/** Passport's `done`: a user (or `false`) and optional info. */
export type SpaceVerified = (err: unknown, user?: Express.User | false | null, info?: object) => void;

/** `(accessToken, refreshToken, profile, done)` */
export type SpaceVerifyFunction =
  (accessToken: string, refreshToken: string | undefined, profile: SpaceProfile, done: SpaceVerified) => void;
/** `(accessToken, refreshToken, params, profile, done)`: `params` is the token endpoint's answer. */
export type SpaceVerifyFunctionWithParams =
  (accessToken: string, refreshToken: string | undefined, params: SpaceTokenParams, profile: SpaceProfile, done: SpaceVerified) => void;
/** `(req, accessToken, refreshToken, profile, done)`, with `passReqToCallback: true`. */
export type SpaceVerifyFunctionWithRequest =
  (req: Request, accessToken: string, refreshToken: string | undefined, profile: SpaceProfile, done: SpaceVerified) => void;
/** `(req, accessToken, refreshToken, params, profile, done)`, with `passReqToCallback: true`. */
export type SpaceVerifyFunctionWithRequestAndParams =
  (req: Request, accessToken: string, refreshToken: string | undefined, params: SpaceTokenParams, profile: SpaceProfile, done: SpaceVerified) => void;

export type SpaceVerify = SpaceVerifyFunction | SpaceVerifyFunctionWithParams;
export type SpaceVerifyWithRequest = SpaceVerifyFunctionWithRequest | SpaceVerifyFunctionWithRequestAndParams;

/** Options after defaults, as the strategy uses them. */
export interface ResolvedOptions {
  spaceURL: string;
  clientID: string;
  clientSecret: string;
  callbackURL: string;
  scope: string;
  accessType: 'offline' | 'online';
  requestCredentials: string | undefined;
  profileFields: string;
  timeout: number;
  skipUserProfile: boolean;
  sessionKey: string;
  stateMaxAge: number;
  maxPendingSignIns: number;
  /** Undefined: named after the strategy (see {@link signInCookieOf}). */
  signInCookie: string | undefined;
  passReqToCallback: boolean;
  publicPaths: Array<string | RegExp>;
}

/** Every option name SpaceStrategy accepts (its own and the shared ones); any other is a TypeError. */
export const STRATEGY_OPTION_NAMES = [
  'spaceURL', 'clientID', 'clientSecret', 'callbackURL', 'scope', 'accessType', 'requestCredentials', 'profileFields',
  'timeout', 'skipUserProfile', 'sessionKey', 'stateMaxAge', 'maxPendingSignIns', 'signInCookie', 'passReqToCallback', 'publicPaths',
  ...SHARED_OPTION_NAMES,
] as const;

const OWNER = 'SpaceStrategy';
/** An RFC 6265 cookie name (an HTTP token). */
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The sign-in cookie's name: the option, else `<strategy name>.signin` (`space.signin`), so two
 * strategies of one app (two Space organizations) never clear each other's.
 */
export function signInCookieOf(strategy: { name: string; settings: { signInCookie: string | undefined } }): string {
  const derived = `${strategy.name}.signin`;
  return strategy.settings.signInCookie ?? (COOKIE_NAME.test(derived) ? derived : 'space.signin');
}
const need = (value: unknown, name: string, example: string) => requireString(OWNER, name, value, example);

/**
 * Validates options and applies defaults. Options that would weaken the flow (`state`,
 * `pkce`, `store`) do not exist here: state and PKCE S256 are always on
 * (SECURITY.md), and passing them is an error rather than silently ignored.
 */
export function resolveOptions(input: unknown): { settings: ResolvedOptions; shared: ReturnType<typeof checkShared> } {
  if (typeof input !== 'object' || input === null) {
    throw new TypeError('SpaceStrategy requires an options object: { spaceURL, clientID, clientSecret, callbackURL }');
  }
  const o = input as Record<string, unknown>;
  for (const weakening of ['state', 'pkce', 'store']) {
    if (o[weakening] !== undefined) {
      throw new TypeError(`SpaceStrategy option "${weakening}" is not supported: state and PKCE (S256) are always on`);
    }
  }
  onlyKnown(OWNER, o, STRATEGY_OPTION_NAMES);
  const rawURL = need(o.spaceURL, 'spaceURL', 'https://acme.jetbrains.space');
  let parsed: URL;
  try {
    parsed = new URL(rawURL);
  } catch {
    throw new TypeError(`SpaceStrategy option "spaceURL" must be an absolute http(s) URL, e.g. https://acme.jetbrains.space, got ${JSON.stringify(rawURL)}`);
  }
  if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new TypeError(`SpaceStrategy option "spaceURL" must be an http(s) URL with no query, fragment or credentials, e.g. https://acme.jetbrains.space, got ${JSON.stringify(rawURL)}`);
  }
  spaceURLWithoutPath(OWNER, rawURL);
  const spaceURL = parsed.origin;

  const callbackURL = need(o.callbackURL, 'callbackURL', '/auth/space/callback or https://app.example.com/auth/space/callback');
  if (!callbackURL.startsWith('/') || callbackURL.startsWith('//')) {
    let cb: URL | undefined;
    try { cb = new URL(callbackURL); } catch { /* reported below */ }
    if (!cb || (cb.protocol !== 'https:' && cb.protocol !== 'http:')) {
      throw new TypeError(`SpaceStrategy option "callbackURL" must be an absolute http(s) URL or a path starting with "/", got ${JSON.stringify(callbackURL)}`);
    }
  }

  let scope = 'global:Profile.View';
  if (o.scope !== undefined) {
    const parts = Array.isArray(o.scope) ? o.scope : typeof o.scope === 'string' ? o.scope.split(/\s+/) : null;
    if (!parts || parts.some((s) => typeof s !== 'string') || parts.join(' ').trim() === '') {
      throw new TypeError('SpaceStrategy option "scope" must be a non-empty string or array of strings, e.g. "global:Profile.View"');
    }
    scope = (parts as string[]).map((s) => s.trim()).filter(Boolean).join(' ');
  }

  const profileFields = o.profileFields === undefined ? DEFAULT_PROFILE_FIELDS : need(o.profileFields, 'profileFields', DEFAULT_PROFILE_FIELDS);
  const sessionKey = o.sessionKey === undefined ? 'space' : need(o.sessionKey, 'sessionKey', '"space"');
  boolean(OWNER, 'skipUserProfile', o.skipUserProfile);
  boolean(OWNER, 'passReqToCallback', o.passReqToCallback);

  const publicPaths = o.publicPaths === undefined ? [] : o.publicPaths;
  if (!Array.isArray(publicPaths) || publicPaths.some((p) => !(p instanceof RegExp) && (typeof p !== 'string' || !p.startsWith('/')))) {
    throw new TypeError('SpaceStrategy option "publicPaths" must be an array of paths starting with "/" or RegExps, e.g. ["/", "/healthz", "/static/"]');
  }
  localPath(OWNER, 'signInPath', o.signInPath);
  const signInCookie = o.signInCookie === undefined ? undefined : need(o.signInCookie, 'signInCookie', '"space.signin"');
  if (signInCookie !== undefined && !COOKIE_NAME.test(signInCookie)) {
    throw new TypeError(`SpaceStrategy option "signInCookie" must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${JSON.stringify(signInCookie)}`);
  }
  if (signInCookie === (o.cookieName ?? 'connect.sid')) {
    throw new TypeError(`SpaceStrategy options "signInCookie" and "cookieName" (the session cookie) must differ, both are ${JSON.stringify(signInCookie)}`);
  }

  const settings: ResolvedOptions = {
    spaceURL,
    clientID: need(o.clientID, 'clientID', 'the client ID from your Space application'),
    clientSecret: need(o.clientSecret, 'clientSecret', 'the client secret from your Space application'),
    callbackURL,
    scope,
    accessType: oneOf(OWNER, 'accessType', o.accessType, ['offline', 'online'] as const) ?? 'offline',
    requestCredentials: oneOf(OWNER, 'requestCredentials', o.requestCredentials, ['default', 'required', 'skip', 'silent'] as const),
    profileFields,
    timeout: number(OWNER, 'timeout', o.timeout, { min: 1, integer: true }) ?? 10_000,
    skipUserProfile: o.skipUserProfile === true,
    sessionKey,
    // Both become Redis PX values: integers.
    stateMaxAge: number(OWNER, 'stateMaxAge', o.stateMaxAge, { min: 1000, integer: true }) ?? 10 * 60_000,
    maxPendingSignIns: number(OWNER, 'maxPendingSignIns', o.maxPendingSignIns, { min: 1, max: 100, integer: true }) ?? 10,
    signInCookie,
    passReqToCallback: o.passReqToCallback === true,
    publicPaths: publicPaths as Array<string | RegExp>,
  };
  return { settings, shared: checkShared(OWNER, o) };
}
