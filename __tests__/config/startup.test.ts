import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import { Redis } from 'ioredis';
import request from 'supertest';
import { SpaceStrategy, spaceErrorHandler, spaceTokenRefresh } from 'passport-jetbrains-space';
import { REDIS_URL, startOwnRedis } from '../helpers/redis';

/** The library's warning lines meanwhile (still printed). */
function collectWarnings(): { list: string[]; stop(): void } {
  const original = console.warn.bind(console);
  const list: string[] = [];
  const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    list.push(args.map(String).join(' '));
    original(...args);
  });
  return { list, stop: () => spy.mockRestore() };
}

/**
 * The first hour: with the README's ioredis options (no offline queue), a request that comes
 * in before the client has connected must get a clear answer and the operator a clear line,
 * not a silent sign-in that lands signed out.
 */
test('a request before Redis has connected gets 503, and the operator one warning saying to connect before listening', async () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const warnings = collectWarnings();
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/auth/space/callback', redis }, (_a, _r, p, d) => d(null, p));
  authenticator.use(strategy);
  const app = express();
  app.use(session({ store: new RedisStore({ client: redis, prefix: 'pjs-test:startup:' }), secret: 's', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.use(spaceTokenRefresh({ strategy }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.use(spaceErrorHandler());
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const first = await request(url).get('/auth/space').set('Accept', 'text/html');
    expect(first.status).toBe(503);
    expect(first.headers['retry-after']).toBeDefined();
    await request(url).get('/auth/space').set('Accept', 'text/html').expect(503);
    await new Promise((r) => setImmediate(r));
    const ours = warnings.list.filter((w) => w.includes('[PASSPORT_JETBRAINS_SPACE_REDIS_NOT_READY]'));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain('await redis.connect()');
    // Connected: the same request goes to Space. (ioredis starts connecting at the first
    // command of a lazy client, so wait for it rather than connecting twice.)
    if (redis.status === 'wait') await redis.connect();
    else if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    expect((await request(url).get('/auth/space').set('Accept', 'text/html')).status).toBe(302);
  } finally {
    warnings.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const keys = await redis.keys('pjs-test:startup:*').catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});

test('Redis lost after the app had connected: 503, and a warning that says Redis went away, not "connect before listening"', async () => {
  const own = await startOwnRedis();
  const redis = new Redis(own.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
  redis.on('error', () => undefined);
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/auth/space/callback', redis }, (_a, _r, p, d) => d(null, p));
  authenticator.use(strategy);
  const app = express();
  app.use(session({ store: new RedisStore({ client: redis, prefix: 'pjs-test:startup-lost:' }), secret: 's', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.use(spaceTokenRefresh({ strategy }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.use(spaceErrorHandler());
  await redis.connect();
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const warnings = collectWarnings();
  try {
    const started = await request(url).get('/auth/space').set('Accept', 'text/html');
    expect(started.status).toBe(302);
    await own.stop();
    while (redis.status === 'ready') await new Promise((r) => setTimeout(r, 20));
    const cookie = started.headers['set-cookie'] as unknown as string[];
    for (let i = 0; i < 2; i++) {
      const res = await request(url).get('/auth/space').set('Accept', 'text/html').set('Cookie', cookie.map((c) => c.split(';')[0]).join('; '));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
    }
    const ours = warnings.list.filter((w) => w.startsWith('passport-jetbrains-space:') && /REDIS_(LOST|NOT_READY)/.test(w));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toContain('[PASSPORT_JETBRAINS_SPACE_REDIS_LOST]');
    expect(ours[0]).toContain('Redis has lost its connection');
    expect(ours[0]).not.toContain('connect before listening');
  } finally {
    warnings.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    // Back up, so every connection (the subscriber the library duplicated too) ends cleanly.
    await own.start();
    if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    redis.disconnect();
    await own.stop();
  }
});
