// spaceTokenRefresh mounted in the wrong order (before express-session, before passport.session(),
// or without passport.session()) names the order on the first request that shows it, instead of
// letting routes fail later with "Not signed in with Space".
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceApi, spaceTokenRefresh } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'order-client', clientSecret: 'order-secret' };
let space: SpaceEmulator;
let redis: Redis;
const prefix = uniquePrefix('order');
const servers: http.Server[] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

type Part = 'session' | 'initialize' | 'passportSession' | 'refresh';

/** An app whose middleware comes in the order given (a part left out is not mounted). */
async function appWith(order: Part[]): Promise<string> {
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({ spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback', redis, keyPrefix: `${prefix}space:` },
    (_a, _r, profile, done) => done(null, { id: profile.id, username: profile.username }));
  authenticator.use(strategy);
  authenticator.serializeUser((u, d) => d(null, u));
  authenticator.deserializeUser((u: object, d) => d(null, u));
  const parts: Record<Part, RequestHandler> = {
    session: session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', resave: false, saveUninitialized: false }),
    initialize: authenticator.initialize(),
    passportSession: authenticator.session(),
    refresh: spaceTokenRefresh({ strategy }),
  };
  const app = express();
  for (const part of order) app.use(parts[part]);
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback', authenticator.authenticate('space', { successRedirect: '/me', failureRedirect: '/failed' }));
  app.get('/me', async (req, res, next) => {
    try {
      res.json(await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'username' } }));
    } catch (err) {
      next(err);
    }
  });
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => { res.status(500).json({ name: err.name, message: err.message }); });
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('in the right order, the signed-in user calls Space', async () => {
  const agent = request.agent(await appWith(['session', 'initialize', 'passportSession', 'refresh']));
  await signIn(agent);
  expect((await agent.get('/me').expect(200)).body.username).toBe('john.doe');
});

test('spaceTokenRefresh before express-session: the error names the order, not "Not signed in with Space"', async () => {
  const agent = request.agent(await appWith(['refresh', 'session', 'initialize', 'passportSession']));
  const res = await agent.get('/me').expect(500);
  expect(res.body.name).toBe('TypeError');
  expect(res.body.message).toContain('spaceTokenRefresh() ran before express-session');
  expect(res.body.message).toContain('app.use(session(...)), app.use(passport.initialize()), app.use(passport.session()), then app.use(spaceTokenRefresh({ strategy }))');
});

test.each([
  ['before passport.session()', ['session', 'initialize', 'refresh', 'passportSession'] as Part[]],
  ['without passport.session()', ['session', 'initialize', 'refresh'] as Part[]],
])('spaceTokenRefresh %s: the signed-in user\'s next request is an error naming passport.session()', async (_name, order) => {
  const agent = request.agent(await appWith(order));
  await signIn(agent);
  const res = await agent.get('/me').expect(500);
  expect(res.body.message).toContain('spaceTokenRefresh() ran before passport.session()');
  expect(res.body.message).not.toContain('Not signed in');
});
