import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import { Redis } from 'ioredis';
import request from 'supertest';
import { SpaceStrategy, spaceErrorHandler, spaceTokenRefresh } from 'passport-jetbrains-space';
import { REDIS_URL } from '../helpers/redis';

/**
 * The first hour: with the README's ioredis options (no offline queue), a request that comes
 * in before the client has connected must get a clear answer and the operator a clear line,
 * not a silent sign-in that lands signed out.
 */
test('a request before Redis has connected gets 503, and the operator one warning saying to connect before listening', async () => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  // Jest gives each test file its own \`process\` object, so 'warning' events of the real one are
  // not seen here: record the calls instead (the warning is still printed).
  const warnings: Array<{ message: string; code?: string }> = [];
  const original = process.emitWarning.bind(process);
  const spy = jest.spyOn(process, 'emitWarning').mockImplementation(((warning: string, options?: { code?: string }) => {
    warnings.push({ message: String(warning), code: options?.code });
    original(warning, options as never);
  }) as typeof process.emitWarning);
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
    const ours = warnings.filter((w) => w.code === 'PASSPORT_JETBRAINS_SPACE_REDIS_NOT_READY');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toContain('await redis.connect()');
    // Connected: the same request goes to Space. (ioredis starts connecting at the first
    // command of a lazy client, so wait for it rather than connecting twice.)
    if (redis.status === 'wait') await redis.connect();
    else if (redis.status !== 'ready') await new Promise((r) => redis.once('ready', r));
    expect((await request(url).get('/auth/space').set('Accept', 'text/html')).status).toBe(302);
  } finally {
    spy.mockRestore();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    const keys = await redis.keys('pjs-test:startup:*').catch(() => [] as string[]);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});
