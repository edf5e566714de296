/**
 * An app in the README's shape with every part an operator watches: sign-in, spaceTokenRefresh,
 * spaceApi, a team rule, sign-out, the sessions list, bearer tokens, Space's requests and the health
 * check. For the telemetry, audit and health tests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import {
  SpaceBearerStrategy, SpaceStrategy, spaceApi, spaceAuthorize, spaceErrorHandler, spaceHealth, spaceSessions, spaceSignOut,
  spaceTokenRefresh, verifySpaceRequest, type SpaceStrategyOptions,
} from 'passport-jetbrains-space';
import { fingerprint } from './app';

export const OPS_CLIENT = { clientID: 'ops-client', clientSecret: 'ops-secret-canary-7f3a91', redirectURIs: ['*'] };
export const OPS_SCOPE = ['global:Profile.View', 'global:Profile.Memberships.View'];
export const SIGNING_KEY = 'ops-endpoint-signing-key';
export const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

export interface OpsApp {
  url: string;
  strategy: SpaceStrategy;
  /** A cookie jar that sends a Firefox-on-Linux User-Agent. */
  agent(): ReturnType<typeof request.agent>;
  close(): Promise<void>;
}

export interface OpsAppOptions {
  spaceURL: string;
  /** Redis for the sessions (always) and for the library (unless `libraryRedis: false`). */
  redis: Redis;
  prefix: string;
  /** More SpaceStrategy options (shared settings included: `onAudit`, `onEvent`...). */
  strategy?: Omit<Partial<SpaceStrategyOptions>, 'passReqToCallback'>;
  /** The library's Redis, if not `redis`; false runs it on its in-process store. */
  libraryRedis?: Redis | false;
  /** spaceHealth's `cacheTTL`. */
  cacheTTL?: number;
}

export async function startOpsApp(options: OpsAppOptions): Promise<OpsApp> {
  const authenticator = new passport.Passport();
  const libraryRedis = options.libraryRedis === undefined ? options.redis : options.libraryRedis;
  const strategy = new SpaceStrategy({
    spaceURL: options.spaceURL, clientID: OPS_CLIENT.clientID, clientSecret: OPS_CLIENT.clientSecret, callbackURL: '/auth/space/callback',
    scope: OPS_SCOPE, keyPrefix: `${options.prefix}space:`, ...(libraryRedis ? { redis: libraryRedis } : {}), ...options.strategy,
  }, (_a, _r, profile, done) => done(null, { id: profile.id, username: profile.username }));
  authenticator.use(strategy);
  authenticator.use(new SpaceBearerStrategy({ strategy, orgDomain: false }));
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.get('/healthz', spaceHealth({ strategy, ...(options.cacheTTL === undefined ? {} : { cacheTTL: options.cacheTTL }) }));
  app.post('/space/endpoint', verifySpaceRequest({ strategy, signingKey: SIGNING_KEY, methods: ['signing-key'] }), (_req, res) => res.status(204).end());
  app.use(session({ store: new RedisStore({ client: options.redis, prefix: `${options.prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.get('/api/bearer', authenticator.authenticate('space-bearer', { session: false }), (_req, res) => res.json({ ok: true }));
  app.use(spaceTokenRefresh({ strategy }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback', authenticator.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/'));
  app.get('/api/token', (req, res) => res.json({ signedIn: Boolean(req.user), token: fingerprint(req.spaceTokens?.accessToken) }));
  app.get('/api/me', async (req, res, next) => {
    try {
      res.json(await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'id,username' } }));
    } catch (err) {
      next(err);
    }
  });
  app.get('/platform', spaceAuthorize({ teams: ['Platform'] }), (_req, res) => res.json({ admitted: true }));
  app.get('/marketing', spaceAuthorize({ teams: ['Marketing'] }), (_req, res) => res.json({ admitted: true }));
  app.post('/sessions/end-all', async (req, res, next) => {
    try {
      await spaceSessions(req).endAll({ exceptCurrent: true });
      res.status(204).end();
    } catch (err) {
      next(err);
    }
  });
  app.post('/auth/signout', spaceSignOut({ strategy }));
  app.use(spaceErrorHandler());
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).json({ name: err.name, message: err.message }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    strategy,
    agent: () => request.agent(url).set('User-Agent', FIREFOX),
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Every secret the emulator saw: codes, PKCE verifiers, refresh tokens, bearer tokens, client credentials. */
export function secretsSeenBy(space: { requests: ReadonlyArray<{ body?: Readonly<Record<string, string>> | undefined; headers: Readonly<Record<string, unknown>> }> }): string[] {
  const found = new Set<string>([OPS_CLIENT.clientSecret]);
  for (const r of space.requests) {
    for (const field of ['code', 'code_verifier', 'refresh_token']) {
      const value = r.body?.[field];
      if (value) found.add(value);
    }
    const auth = r.headers.authorization;
    if (typeof auth === 'string' && /^Bearer /.test(auth)) found.add(auth.slice(7));
  }
  return [...found];
}
