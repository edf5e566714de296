import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import passport from 'passport';
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { SpaceStrategy, spaceErrorHandler, spaceTokenRefresh, type SpaceTokenEvent } from 'passport-jetbrains-space';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

// connect-redis 9+ speaks node-redis only; given an ioredis client every save fails with
// `ERR syntax error`. The library names the mistake once per store, instead of a bare 500.

/* eslint-disable @typescript-eslint/no-require-imports -- the aliased connect-redis lines are CommonJS packages picked at run time. */
const { RedisStore: RedisStore9 } = require('connect-redis9') as typeof import('connect-redis');
const { RedisStore: RedisStore8 } = require('connect-redis') as typeof import('connect-redis');

const CLIENT = { clientID: 'misconfig-client', clientSecret: 'misconfig-secret' };
const WARNING = 'connect-redis 9+ takes only node-redis (`redis` v5); with ioredis use connect-redis 8 (`npm install connect-redis@8`)';

let space: SpaceEmulator;
let redis: Redis;
const prefix = uniquePrefix('misconfig');
const servers: http.Server[] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'jane.roe' });
  redis = await connectRedis();
});

afterAll(async () => {
  for (const s of servers) s.close();
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

async function startApp(Store: typeof RedisStore8, events: SpaceTokenEvent[]): Promise<string> {
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({
    spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback', redis, keyPrefix: `${prefix}space:`,
    onEvent: (e) => events.push(e),
  }, (_at, _rt, profile, done) => done(null, { id: profile.id }));
  authenticator.use(strategy);
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.use(session({ store: new Store({ client: redis, prefix: `${prefix}sess:` }), secret: 's', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.use(spaceTokenRefresh({ strategy }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback', authenticator.authenticate('space', { successRedirect: '/', failureRedirect: '/failed' }));
  app.use(spaceErrorHandler());
  app.use((_err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => { res.status(500).end(); });
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The warnings the process emits meanwhile (watched, still emitted: jest's sandboxed `process` does not relay 'warning' events). */
function collectWarnings(): { list: string[]; stop(): void } {
  const spy = jest.spyOn(process, 'emitWarning');
  return {
    get list() { return spy.mock.calls.map(([w]) => (typeof w === 'string' ? w : w.message)); },
    stop: () => spy.mockRestore(),
  };
}

test('connect-redis 9 given an ioredis client: the first failed save names the fix once, as an event and a process warning', async () => {
  const events: SpaceTokenEvent[] = [];
  const url = await startApp(RedisStore9, events);
  const warnings = collectWarnings();
  try {
    for (let i = 0; i < 3; i++) {
      // Starting a sign-in stores no session; the callback's new session cannot be stored.
      const start = await fetch(`${url}/auth/space`, { redirect: 'manual' });
      expect(start.status).toBe(302);
      const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
      const back = new URL(approval.headers.get('location')!);
      const callback = await fetch(`${url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: start.headers.getSetCookie()[0]!.split(';')[0]! } });
      expect(callback.status).not.toBe(302);
    }
    await new Promise((r) => setImmediate(r));
    expect(warnings.list.filter((w) => w === WARNING)).toHaveLength(1);
    expect(events.filter((e) => e.event === 'store.misconfigured')).toEqual([{ event: 'store.misconfigured', message: WARNING }]);
  } finally {
    warnings.stop();
  }
});

test('connect-redis 8 with the same ioredis client saves, and nothing is warned', async () => {
  const events: SpaceTokenEvent[] = [];
  const url = await startApp(RedisStore8, events);
  const warnings = collectWarnings();
  try {
    const r = await fetch(`${url}/auth/space`, { redirect: 'manual' });
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location')!).origin).toBe(new URL(space.url).origin);
    await new Promise((r) => setImmediate(r));
    expect(warnings.list).toEqual([]);
    expect(events.some((e) => e.event === 'store.misconfigured')).toBe(false);
  } finally {
    warnings.stop();
  }
});
