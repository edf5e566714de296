import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import type Redis from 'ioredis';
import request from 'supertest';
import { createHash } from 'node:crypto';
import {
  SpaceStrategy, spaceApi, spaceErrorHandler, spaceTokenRefresh,
  type SpaceStrategyOptions, type SpaceTokenRefreshOptions, type SpaceVerifyFunction,
} from 'passport-jetbrains-space';

export const SESSION_SECRET = 'test-session-secret';

export interface TestAppOptions {
  spaceURL: string;
  clientID: string;
  clientSecret: string;
  redis: Redis;
  prefix: string;
  strategy?: Omit<Partial<SpaceStrategyOptions>, 'passReqToCallback'>;
  verify?: SpaceVerifyFunction;
  /** Adds middleware/routes after passport.session() and before the test routes. */
  setup?: (app: Express, strategy: SpaceStrategy) => void;
  /** Mounts spaceTokenRefresh with these options (and the /api routes that use it). */
  refresh?: Omit<SpaceTokenRefreshOptions, 'strategy' | 'redis'> & { redis?: SpaceTokenRefreshOptions['redis'] | 'none' };
  /** Logs every error (the whole object, as apps do) before answering it. */
  logErrors?: boolean;
  /** express-session's `saveUninitialized` (default false, as the README has it). */
  saveUninitialized?: boolean;
}

/** A short, non-secret fingerprint of a token, for comparing what handlers saw. */
export const fingerprint = (token: string | undefined) => (token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null);

export interface TestApp {
  url: string;
  app: Express;
  strategy: SpaceStrategy;
  agent(): ReturnType<typeof request.agent>;
  /** Makes the next POST /api/slow requests wait until the returned function is called. */
  hold(): () => void;
  /** The Redis key of a session, from a `sid` cookie value. */
  sessionKeyFromCookie(setCookie: string | string[] | undefined): string | undefined;
  close(): Promise<void>;
}

/** Serializes just what the test routes show; never the tokens. */
type TestUser = { id: string; username: string; displayName: string };

/**
 * An Express app set up the way the README tells users to: express-session with
 * connect-redis on ioredis, passport.session(), and SpaceStrategy on the two classic routes.
 * It listens on a real port; each app has its own Passport instance.
 */
export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const app = express();
  const authenticator = new passport.Passport();
  const verify: SpaceVerifyFunction = options.verify ?? ((_at, _rt, profile, done) =>
    done(null, { id: profile.id, username: profile.username, displayName: profile.displayName }));
  // Redis is given once, on the strategy, as the README shows; `refresh.redis: 'none'` runs
  // the library on its in-memory store instead.
  const withoutRedis = options.refresh?.redis === 'none';
  const strategy = new SpaceStrategy({
    spaceURL: options.spaceURL,
    clientID: options.clientID,
    clientSecret: options.clientSecret,
    callbackURL: '/auth/space/callback',
    ...(withoutRedis ? {} : { redis: options.refresh?.redis ?? options.redis, keyPrefix: `${options.prefix}space:` }),
    // Tests sign in far more often than people do, all from 127.0.0.1: the rate limits (on by
    // default) are tested on their own (__tests__/rate-limits), and given there explicitly.
    rateLimit: false,
    ...options.strategy,
  }, verify);
  authenticator.use(strategy);
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: TestUser, done) => done(null, user));

  app.use(session({
    store: new RedisStore({ client: options.redis, prefix: `${options.prefix}sess:` }),
    secret: SESSION_SECRET,
    name: 'sid',
    resave: false,
    saveUninitialized: options.saveUninitialized ?? false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  options.setup?.(app, strategy);
  let gate: Promise<void> = Promise.resolve();
  if (options.refresh) {
    const { redis: _redis, ...rest } = options.refresh;
    app.use(spaceTokenRefresh({ strategy, ...rest }));
    app.get('/api/token', (req, res) => {
      res.json({ signedIn: Boolean(req.user), token: fingerprint(req.spaceTokens?.accessToken), expiresAt: req.spaceTokens?.expiresAt ?? null });
    });
    app.get('/page', (req, res) => {
      if (!req.user) return void res.status(401).send('signed out');
      res.send(`token ${fingerprint(req.spaceTokens?.accessToken)}`);
    });
    app.get('/api/me', async (req, res, next) => {
      try {
        res.json(await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'id,username' } }));
      } catch (err) {
        next(err);
      }
    });
    app.post('/api/slow', async (req, res) => {
      (req.session as unknown as Record<string, unknown>).note = 'written by a slow request';
      await gate;
      res.json({ token: fingerprint(req.spaceTokens?.accessToken) });
    });
  }

  // A page that writes the session of a visitor who has not signed in.
  app.get('/visit', (req, res) => {
    (req.session as unknown as Record<string, unknown>).visited = true;
    res.status(204).end();
  });
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback',
    authenticator.authenticate('space', { failureRedirect: '/signin-failed', failureMessage: true }),
    (_req, res) => res.redirect('/me'));
  app.get('/signin-failed', (req, res) => {
    const s = req.session as unknown as { messages?: string[] };
    const messages = s.messages ?? [];
    delete s.messages;
    res.status(401).json({ messages });
  });
  app.get('/me', (req, res) => {
    if (!req.user) return void res.status(401).json({ error: 'unauthenticated' });
    const tokens = strategy.tokensOf(req.session);
    res.json({
      user: req.user,
      authInfo: req.authInfo ?? null,
      tokens: tokens ? { expiresAt: tokens.expiresAt, scope: tokens.scope, hasRefreshToken: Boolean(tokens.refreshToken), tokenType: tokens.tokenType } : null,
    });
  });
  app.post('/logout', (req, res, next) => {
    req.logout((err) => (err ? next(err) : res.status(204).end()));
  });
  if (options.logErrors) {
    app.use((err: Error, _req: Request, _res: Response, next: NextFunction) => {
      console.error(err, JSON.stringify(err), (err as { cause?: unknown }).cause);
      next(err);
    });
  }
  if (options.refresh) app.use(spaceErrorHandler());
  app.use((err: Error & Record<string, unknown>, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({
      name: err.name, message: err.message, code: err.code ?? null, error: err.error ?? null,
      errorDescription: err.errorDescription ?? null, status: err.status ?? null,
    });
  });

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    app,
    strategy,
    agent: () => request.agent(url),
    hold() {
      let release!: () => void;
      gate = new Promise<void>((resolve) => { release = resolve; });
      return release;
    },
    sessionKeyFromCookie(setCookie) {
      const cookies = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
      const sid = cookies.map((c) => /^sid=s%3A([^.;]+)\./.exec(c)?.[1]).find(Boolean);
      return sid ? `${options.prefix}sess:${decodeURIComponent(sid)}` : undefined;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/**
 * Drives a sign-in the way a browser would: the app's start route, Space's /oauth/auth
 * (the emulator auto-approves), then the callback with the same cookie jar.
 */
export async function signIn(agent: ReturnType<typeof request.agent>, startPath = '/auth/space') {
  const start = await agent.get(startPath);
  if (start.status !== 302) throw new Error(`start route answered ${start.status}`);
  const authorizeURL = new URL(start.headers.location as string);
  const approval = await fetch(authorizeURL, { redirect: 'manual' });
  const back = approval.headers.get('location');
  if (approval.status !== 302 || !back) throw new Error(`Space emulator answered ${approval.status} to /oauth/auth`);
  const callbackURL = new URL(back);
  const callback = await agent.get(callbackURL.pathname + callbackURL.search);
  return { start, authorizeURL, callbackURL, callback };
}
