import type { NextFunction, Request, RequestHandler, Response, Router } from 'express';
import { boolean, fn, isRecord, localPath, onlyKnown, requireString } from '../core';
import { SHARED_OPTION_NAMES, type SpaceSharedOptions, type SpaceStrategyOptions, type SpaceVerify, type SpaceVerifyFunction, type SpaceVerifyFunctionWithParams, type SpaceVerifyFunctionWithRequest, type SpaceVerifyFunctionWithRequestAndParams, type SpaceVerifyWithRequest } from '../config';
import { redisKind } from '../store';
import { requestHasUser } from '../session';
import { safeReturnTo, spaceErrorHandler } from '../web';
import { spaceTokenRefresh } from '../refresh';
import { spaceSignOut } from '../signout';
import { SpaceStrategy } from '../strategy';
import { loadExpress, loadPassport, loadRedisStore, loadSession } from './peers';
import { requireSameOrigin } from './same-origin';

/** The strategy options spaceAuth sets itself, from its own options: never in `strategyOptions`. */
type OwnedByAuth = 'spaceURL' | 'clientID' | 'clientSecret' | 'callbackURL' | 'scope' | 'publicPaths' | keyof SpaceSharedOptions;

/** SpaceStrategy options spaceAuth passes on as they are (`accessType`, `profileFields`, `timeout`, ...). */
export type SpaceAuthStrategyOptions = Omit<SpaceStrategyOptions, OwnedByAuth>;

/**
 * express-session options spaceAuth passes on (`name`, `cookie`, `rolling`, ...). `secret` and
 * `store` are spaceAuth's own (`secret`, and connect-redis on `redis`). Typed loosely, so that
 * express-session's types are not needed.
 */
export interface SpaceAuthSessionOptions {
  /** The session cookie's name (default `connect.sid`); it is also the shared `cookieName`. */
  name?: string;
  /**
   * The session cookie. spaceAuth's defaults: `httpOnly: true`, `sameSite: 'lax'`, and `secure` when
   * `baseURL` is `https:` (behind a proxy that terminates TLS, set Express's `trust proxy`).
   */
  cookie?: { maxAge?: number; secure?: boolean | 'auto'; sameSite?: boolean | 'lax' | 'strict' | 'none'; domain?: string; path?: string; httpOnly?: boolean; [option: string]: unknown };
  [option: string]: unknown;
}

/** The paths spaceAuth mounts. */
export interface SpaceAuthRoutes {
  /** GET: starts a sign-in (`?returnTo=/path` says where to land). Default `'/auth/space'`. */
  signIn?: string;
  /** GET: Space sends the browser back here; registered in Space as `baseURL` + this. Default `'/auth/space/callback'`. */
  callback?: string;
  /** POST, same origin only: signs out. Default `'/auth/signout'`. */
  signOut?: string;
}

/** A Passport instance (`new Passport()`) or the `passport` module itself; typed structurally. */
export interface SpacePassport {
  use(name: string, strategy: unknown): unknown;
  initialize(): RequestHandler;
  session(): RequestHandler;
  authenticate(name: string, options?: object): RequestHandler;
  serializeUser(fn: (user: Express.User, done: (err: unknown, id?: unknown) => void) => void): void;
  deserializeUser(fn: (id: unknown, done: (err: unknown, user?: Express.User | false | null) => void) => void): void;
}

/**
 * Options of {@link spaceAuth}. Besides these, it takes every shared setting
 * ({@link SpaceSharedOptions}: `keyPrefix`, `encryptionKeys`, `onEvent`, timings, ...).
 */
export interface SpaceAuthOptions extends SpaceSharedOptions {
  /** Your organization's Space URL (its origin), e.g. `https://acme.jetbrains.space`. */
  spaceURL: string;
  /** The application's client ID (Space: Applications → your app → Authentication). */
  clientID: string;
  /** The application's client secret. */
  clientSecret: string;
  /**
   * The app's public origin, e.g. `https://app.example.com` or `http://localhost:3000`, without a
   * path. The redirect URI to register in Space is this + `routes.callback`
   * (`https://app.example.com/auth/space/callback`); sign-out accepts requests from this origin.
   */
  baseURL: string;
  /** express-session's secret; an array rotates it (the first signs, every one verifies). */
  secret: string | string[];
  /**
   * The Redis client for everything: sessions (connect-redis), pending sign-ins, tokens, locks.
   * ioredis (with connect-redis 7 or 8) or node-redis (with connect-redis 8 or later).
   */
  redis: object;
  /** Scope every sign-in asks for. Default `global:Profile.View`. */
  scope?: string | string[];
  /**
   * Your verify callback, any shape SpaceStrategy takes. Default: the user is the Space profile
   * (`done(null, profile)`; its `_raw` and `_json` are never stored).
   */
  verify?: SpaceVerify | SpaceVerifyWithRequest;
  /**
   * `true`: everything mounted after spaceAuth needs a sign-in (gate mode): page navigations go to
   * Space and come back, other requests get 401 JSON. Default `false`.
   */
  authRequired?: boolean;
  /** With `authRequired`: paths let through without sign-in (exact, `'/prefix/'`, or RegExp). */
  publicPaths?: Array<string | RegExp>;
  /** More express-session options (`name`, `cookie`, `rolling`, ...). */
  session?: SpaceAuthSessionOptions;
  /** More SpaceStrategy options (`accessType`, `profileFields`, `timeout`, `passReqToCallback`, ...). */
  strategyOptions?: SpaceAuthStrategyOptions;
  /** The paths of the sign-in, callback and sign-out routes. */
  routes?: SpaceAuthRoutes;
  /** The Passport instance to register with. Default: the `passport` module's own. */
  passport?: SpacePassport;
}

/** {@link SpaceAuthOptions} with one verify shape, so that TypeScript types a verify lambda's parameters. */
type WithVerify<V, S> = Omit<SpaceAuthOptions, 'verify' | 'strategyOptions'> & { verify: V; strategyOptions?: S };
type WithoutRequest = SpaceAuthStrategyOptions & { passReqToCallback?: false };
type WithRequest = SpaceAuthStrategyOptions & { passReqToCallback: true };

/** The Router spaceAuth returns, with the SpaceStrategy it made, for the rest of the API (`spaceAuthorize({ strategy })`, `spaceAppClient({ strategy })`, ...). */
export interface SpaceAuthRouter extends Router {
  readonly strategy: SpaceStrategy;
}

const OWNER = 'spaceAuth';
/** spaceAuth's own option names (the shared settings come on top). */
const OWN_OPTION_NAMES = [
  'spaceURL', 'clientID', 'clientSecret', 'baseURL', 'secret', 'redis', 'scope', 'verify', 'authRequired', 'publicPaths',
  'session', 'strategyOptions', 'routes', 'passport',
] as const;
/** Every option name spaceAuth accepts; any other is a TypeError. */
export const SPACE_AUTH_OPTION_NAMES = [...OWN_OPTION_NAMES, ...SHARED_OPTION_NAMES.filter((n) => n !== 'redis')] as const;

const OWNED_STRATEGY_OPTIONS: Record<string, string> = {
  spaceURL: 'give it as spaceAuth\'s own "spaceURL"',
  clientID: 'give it as spaceAuth\'s own "clientID"',
  clientSecret: 'give it as spaceAuth\'s own "clientSecret"',
  callbackURL: 'spaceAuth makes it from "baseURL" and "routes.callback"',
  scope: 'give it as spaceAuth\'s own "scope"',
  publicPaths: 'give it as spaceAuth\'s own "publicPaths"',
};

function conflict(message: string): never {
  throw new TypeError(`${OWNER}: ${message}`);
}

/** The app's origin from `baseURL`: absolute http(s), no path, query, fragment or credentials. */
function originOf(value: unknown): string {
  const raw = requireString(OWNER, 'baseURL', value, 'https://app.example.com or http://localhost:3000');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return conflict(`option "baseURL" must be an absolute http(s) URL, e.g. https://app.example.com, got ${JSON.stringify(raw)}`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash || url.username || url.password) {
    conflict(`option "baseURL" must be an http(s) URL with no query, fragment or credentials, e.g. https://app.example.com, got ${JSON.stringify(raw)}`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    conflict(`option "baseURL" must be the app's origin without a path (use "${url.origin}"; the routes are at the root, see "routes"), got ${JSON.stringify(raw)}`);
  }
  return url.origin;
}

function secretOf(value: unknown): string | string[] {
  const ok = (s: unknown) => typeof s === 'string' && s.trim() !== '';
  if (ok(value) || (Array.isArray(value) && value.length > 0 && value.every(ok))) return value as string | string[];
  return conflict('option "secret" must be the session secret: a non-empty string, or a non-empty array of them (the first signs, all verify), e.g. process.env.SESSION_SECRET');
}

function routesOf(value: unknown, shared: Record<string, unknown>): Required<SpaceAuthRoutes> {
  if (value !== undefined && !isRecord(value)) conflict('option "routes" must be an object: { signIn, callback, signOut }');
  const routes = (value ?? {}) as Record<string, unknown>;
  onlyKnown(`${OWNER} option "routes"`, routes, ['signIn', 'callback', 'signOut']);
  const pick = (name: 'signIn' | 'callback' | 'signOut', sharedName: string | undefined, fallback: string): string => {
    const given = localPath(OWNER, `routes.${name}`, routes[name]);
    const fromShared = sharedName === undefined ? undefined : localPath(OWNER, sharedName, shared[sharedName]);
    if (given !== undefined && fromShared !== undefined && given !== fromShared) {
      conflict(`"routes.${name}" (${JSON.stringify(given)}) and "${sharedName}" (${JSON.stringify(fromShared)}) name the same path differently; give one of them`);
    }
    return given ?? fromShared ?? fallback;
  };
  const signIn = pick('signIn', 'signInPath', '/auth/space');
  const callback = pick('callback', undefined, '/auth/space/callback');
  const signOut = pick('signOut', 'signOutPath', '/auth/signout');
  if (new Set([signIn, callback, signOut]).size < 3) conflict(`the sign-in, callback and sign-out routes must be three different paths, got ${JSON.stringify({ signIn, callback, signOut })}`);
  return { signIn, callback, signOut };
}

function sessionOptionsOf(value: unknown, cookieName: unknown): { options: Record<string, unknown>; name: string | undefined } {
  if (value !== undefined && !isRecord(value)) conflict('option "session" must be an object of express-session options, e.g. { cookie: { maxAge: 86400000 } }');
  const options = { ...(value as Record<string, unknown> | undefined) };
  if ('secret' in options) conflict('"session.secret" repeats "secret": give the session secret once, as spaceAuth\'s "secret"');
  if ('store' in options) conflict('"session.store" is not taken: spaceAuth keeps sessions in "redis" with connect-redis (to use a store of your own, set up express-session yourself, as in the README\'s quick start)');
  if (options.cookie !== undefined && !isRecord(options.cookie)) conflict('"session.cookie" must be an object of cookie options, e.g. { maxAge: 86400000 }');
  const sessionName = options.name === undefined ? undefined : requireString(OWNER, 'session.name', options.name, '"sid"');
  const shared = cookieName === undefined ? undefined : requireString(OWNER, 'cookieName', cookieName, '"connect.sid"');
  if (sessionName !== undefined && shared !== undefined && sessionName !== shared) {
    conflict(`"session.name" (${JSON.stringify(sessionName)}) and "cookieName" (${JSON.stringify(shared)}) both name the session cookie, differently; give one of them`);
  }
  return { options, name: sessionName ?? shared };
}

function strategyOptionsOf(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (!isRecord(value)) return conflict('option "strategyOptions" must be an object of SpaceStrategy options, e.g. { accessType: "online" }');
  for (const name of Object.keys(value)) {
    if (name in OWNED_STRATEGY_OPTIONS) conflict(`"strategyOptions.${name}" is not taken here: ${OWNED_STRATEGY_OPTIONS[name]}`);
    if ((SHARED_OPTION_NAMES as readonly string[]).includes(name)) conflict(`"strategyOptions.${name}" is a shared setting: give it at the top level of spaceAuth's options`);
  }
  return value;
}

/**
 * Registers the library's serializers on `passport`, which store the user as it is (the profile,
 * by default). They step aside ('pass') when the app registers serializers of its own, before or
 * after this call, so the app's win.
 */
function serializeAsIs(passport: SpacePassport): void {
  const listOf = (name: '_serializers' | '_deserializers') => (passport as unknown as Record<string, unknown>)[name];
  const othersBesides = (name: '_serializers' | '_deserializers') => {
    const list = listOf(name);
    return Array.isArray(list) && list.length > 1;
  };
  passport.serializeUser((user, done) => (othersBesides('_serializers') ? done('pass') : done(null, user)));
  passport.deserializeUser((user, done) => (othersBesides('_deserializers') ? done('pass') : done(null, user as Express.User)));
}

/**
 * "Sign in with JetBrains Space" for an Express app in one call: returns a Router that mounts
 * express-session on `redis` (connect-redis), `passport.initialize()` and `passport.session()`, a
 * {@link SpaceStrategy}, {@link spaceTokenRefresh}, the sign-in route, the callback route, a
 * same-origin-only POST sign-out ({@link spaceSignOut}) and {@link spaceErrorHandler} (for what
 * these raise). With `authRequired: true`, everything mounted after it needs a sign-in.
 *
 * ```ts
 * app.use(spaceAuth({ spaceURL, clientID, clientSecret, baseURL: 'http://localhost:3000', secret, redis, authRequired: true }));
 * ```
 *
 * Mount it at the root (`app.use(spaceAuth(...))`), before your routes, and mount
 * `spaceErrorHandler()` after them for what `spaceApi(req)` raises in your routes. The packages it
 * mounts are the app's own (express-session, connect-redis, passport), loaded when it is called;
 * a missing one is a TypeError naming it. The returned Router's `strategy` is the SpaceStrategy,
 * for the rest of the API.
 */
export function spaceAuth(options: Omit<SpaceAuthOptions, 'verify' | 'strategyOptions'> & { verify?: SpaceVerifyFunction; strategyOptions?: WithoutRequest }): SpaceAuthRouter;
export function spaceAuth(options: WithVerify<SpaceVerifyFunctionWithParams, WithoutRequest>): SpaceAuthRouter;
export function spaceAuth(options: WithVerify<SpaceVerifyFunctionWithRequest, WithRequest> & { strategyOptions: WithRequest }): SpaceAuthRouter;
export function spaceAuth(options: WithVerify<SpaceVerifyFunctionWithRequestAndParams, WithRequest> & { strategyOptions: WithRequest }): SpaceAuthRouter;
export function spaceAuth(options: SpaceAuthOptions): SpaceAuthRouter;
export function spaceAuth(options: SpaceAuthOptions): SpaceAuthRouter {
  if (!isRecord(options)) throw new TypeError(`${OWNER} requires options: { spaceURL, clientID, clientSecret, baseURL, secret, redis }`);
  const o = options as unknown as Record<string, unknown>;
  onlyKnown(OWNER, o, SPACE_AUTH_OPTION_NAMES);
  const spaceURL = requireString(OWNER, 'spaceURL', o.spaceURL, 'https://acme.jetbrains.space');
  const clientID = requireString(OWNER, 'clientID', o.clientID, 'the client ID from your Space application');
  const clientSecret = requireString(OWNER, 'clientSecret', o.clientSecret, 'the client secret from your Space application');
  const origin = originOf(o.baseURL);
  const secret = secretOf(o.secret);
  if (!redisKind(o.redis)) {
    conflict('option "redis" is required: an ioredis client (new Redis()) or a node-redis client (createClient()); sessions, sign-ins and tokens all live there');
  }
  const routes = routesOf(o.routes, o);
  const session = sessionOptionsOf(o.session, o.cookieName);
  const strategyOptions = strategyOptionsOf(o.strategyOptions);
  const authRequired = boolean(OWNER, 'authRequired', o.authRequired) ?? false;
  if (o.publicPaths !== undefined && !authRequired) conflict('"publicPaths" only applies with "authRequired: true" (they are the paths the gate lets through); remove it or set authRequired');
  const verify = fn<SpaceVerify | SpaceVerifyWithRequest>(OWNER, 'verify', o.verify);

  // The peers: loaded now, so that a missing one fails at start-up, by name.
  const express = loadExpress();
  const makeSession = loadSession();
  const RedisStore = loadRedisStore(o.redis);
  const passport = (o.passport ?? loadPassport()) as SpacePassport;
  for (const method of ['use', 'initialize', 'session', 'authenticate', 'serializeUser', 'deserializeUser'] as const) {
    if (typeof passport?.[method] !== 'function') conflict(`option "passport" must be a Passport instance (new Passport()) or the passport module: it has no ${method}()`);
  }

  const shared: Record<string, unknown> = {};
  for (const name of SHARED_OPTION_NAMES) if (o[name] !== undefined) shared[name] = o[name];
  const passReq = strategyOptions.passReqToCallback === true;
  const defaultVerify = passReq
    ? (_req: unknown, _at: unknown, _rt: unknown, profile: unknown, done: (err: null, user: unknown) => void) => done(null, profile)
    : (_at: unknown, _rt: unknown, profile: unknown, done: (err: null, user: unknown) => void) => done(null, profile);
  let strategy: SpaceStrategy;
  try {
    strategy = new SpaceStrategy({
      ...strategyOptions,
      spaceURL, clientID, clientSecret,
      callbackURL: `${origin}${routes.callback}`,
      ...(o.scope !== undefined ? { scope: o.scope as string | string[] } : {}),
      ...(o.publicPaths !== undefined ? { publicPaths: o.publicPaths as Array<string | RegExp> } : {}),
      ...shared,
      redis: o.redis,
      signInPath: routes.signIn,
      signOutPath: routes.signOut,
      ...(session.name !== undefined ? { cookieName: session.name } : {}),
    } as never, (verify ?? defaultVerify) as never);
  } catch (err) {
    if (err instanceof TypeError) throw new TypeError(`${OWNER}: ${err.message}`);
    throw err;
  }

  const registered = (passport as unknown as { _strategy?: (name: string) => unknown })._strategy;
  if (typeof registered === 'function' && registered.call(passport, strategy.name) !== undefined) {
    conflict(`this Passport instance has a "${strategy.name}" strategy already; give spaceAuth a Passport instance of its own: passport: new Passport()`);
  }
  passport.use(strategy.name, strategy);
  serializeAsIs(passport);

  // Read from the options, not strategy.shared.settings: reading those fixes them, and parts made
  // after spaceAuth (spaceAppClient, ...) may still add shared settings until the first request.
  const keyPrefix = (shared.keyPrefix as string | undefined) ?? 'space:';
  const { cookie: cookieOptions, ...sessionOptions } = session.options;
  const sessionMiddleware = makeSession({
    resave: false,
    saveUninitialized: false,
    ...sessionOptions,
    ...(session.name !== undefined ? { name: session.name } : {}),
    secret,
    // Sessions under the library's own prefix: every key of the app's sign-ins in one place.
    store: new RedisStore({ client: o.redis, prefix: `${keyPrefix}sess:` }),
    cookie: { httpOnly: true, sameSite: 'lax', secure: origin.startsWith('https:'), ...(cookieOptions as object | undefined) },
  });

  const router = express.Router();
  router.use(function spaceAuthAtRoot(req: Request, _res: Response, next: NextFunction) {
    // The routes, the callback URL and the paths the gate compares are the app's own paths.
    if (req.baseUrl) return next(new TypeError(`${OWNER}() must be mounted at the root, app.use(spaceAuth(...)), not under "${req.baseUrl}"; change its paths with the "routes" option`));
    next();
  });
  router.use(sessionMiddleware);
  router.use(passport.initialize());
  router.use(passport.session());
  router.use(spaceTokenRefresh({ strategy }));
  const start = passport.authenticate(strategy.name);
  router.get(routes.signIn, (req: Request, res: Response, next: NextFunction) => {
    // Signed in already: no new trip to Space, straight where the link was going.
    if (requestHasUser(req)) return void res.redirect(safeReturnTo((req.query as Record<string, unknown>).returnTo) ?? '/');
    start(req, res, next);
  });
  // Failures go on to spaceErrorHandler below, which answers with their status and reason.
  router.get(routes.callback, passport.authenticate(strategy.name, { failWithError: true, successReturnToOrRedirect: '/' }));
  router.post(routes.signOut, requireSameOrigin(origin), express.urlencoded({ extended: false }), spaceSignOut({ strategy }));
  if (authRequired) router.use(passport.authenticate(strategy.name));
  router.use(spaceErrorHandler());
  Object.defineProperty(router, 'strategy', { value: strategy, enumerable: true });
  return router as SpaceAuthRouter;
}
