import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import type Redis from 'ioredis';
import passport from 'passport';
import request from 'supertest';
import { SpaceStrategy, spaceErrorHandler, spaceTokenRefresh } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';

// These tests stop and pause Redis, so they use a redis-server of their own.
const CLIENT = { clientID: 'outage-client', clientSecret: 'outage-secret' };
let own: OwnRedis;
let redis: Redis;
let space: SpaceEmulator;
let app: TestApp;

beforeAll(async () => {
  own = await startOwnRedis();
  redis = await connectRedis(own.url);
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: uniquePrefix('outage'), refresh: {} });
});

afterAll(async () => {
  await app.close();
  await space.close();
  redis.disconnect();
  await own.stop();
});

async function timed<T>(run: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await run();
  return { value, ms: Date.now() - started };
}

test('Redis hanging: 503 with Retry-After within about 2 s, and the session works again once Redis answers', async () => {
  const agent = app.agent();
  await signIn(agent);
  expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(true);

  own.pause();
  try {
    const { value: res, ms } = await timed(() => agent.get('/api/token').set('Accept', 'application/json'));
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(ms).toBeLessThan(2500);
  } finally {
    own.resume();
  }
  const back = await agent.get('/api/token').expect(200);
  expect(back.body.signedIn).toBe(true);
});

test('Redis down: 503 at once (no queueing), then the app serves again when Redis is back', async () => {
  const agent = app.agent();
  await signIn(agent);
  await own.stop();
  const { value: res, ms } = await timed(() => agent.get('/api/token').set('Accept', 'application/json'));
  expect(res.status).toBe(503);
  expect(ms).toBeLessThan(2500);
  const page = await agent.get('/api/token').set('Accept', 'text/html');
  expect(page.status).toBe(503);
  expect(page.text).not.toMatch(/at .*\.js:\d+/); // no stack trace

  await own.start();
  const deadline = Date.now() + 5000;
  let status = 0;
  while (Date.now() < deadline) {
    status = (await agent.get('/api/token')).status;
    if (status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The restarted Redis kept no data, so the user is signed out, but the app answers.
  expect(status).toBe(200);
});

test('Redis hanging during a renewal (session store still up): 503 within redisTimeout, and no sign-out', async () => {
  // Sessions on the machine's Redis; the renewal store and lock on our own, which we pause.
  const shared = await connectRedis();
  const short = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2 });
  const prefix = uniquePrefix('outage-renewal');
  const split = await startTestApp({ spaceURL: short.url, ...CLIENT, redis: shared, prefix, refresh: { redis, redisTimeout: 500 } });
  try {
    const agent = split.agent();
    await signIn(agent);
    await new Promise((r) => setTimeout(r, 2200));
    own.pause();
    try {
      const { value: res, ms } = await timed(() => agent.get('/api/token').set('Accept', 'application/json'));
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(ms).toBeLessThan(2000);
    } finally {
      own.resume();
    }
    const back = await agent.get('/api/token').expect(200);
    expect(back.body.signedIn).toBe(true);
    expect(short.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(1);
  } finally {
    await split.close();
    await short.close();
    await deleteKeys(shared, prefix);
    shared.disconnect();
  }
});

test('Space renewed but Redis refused the write: the new tokens are served, kept, and stored once Redis takes writes again', async () => {
  // Rotation: once Space has answered, the old refresh token is dead, so losing the answer
  // would lose the sign-in.
  const shared = await connectRedis();
  const rotating = await startSpaceEmulator({
    port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2, rotateRefreshTokens: true,
  });
  const prefix = uniquePrefix('outage-persist');
  const events: string[] = [];
  const split = await startTestApp({
    spaceURL: rotating.url, ...CLIENT, redis: shared, prefix,
    refresh: { redis, redisTimeout: 500, onEvent: (e) => events.push(e.event) },
  });
  try {
    const agent = split.agent();
    await signIn(agent);
    // The member's consent holds the refresh token: the renewal is written there.
    const consentKey = (await redis.keys(`${prefix}space:{c:*}:tokens`))[0]!;
    const signedInVersion = (JSON.parse((await redis.get(consentKey))!) as { version: number }).version;
    await new Promise((r) => setTimeout(r, 1200));
    rotating.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 400, times: 1 });
    const renewal = agent.get('/api/token').then((r) => r); // supertest sends on then()
    await new Promise((r) => setTimeout(r, 200));
    // Writes now fail with OOM; reads still work.
    await redis.config('SET', 'maxmemory-policy', 'noeviction');
    await redis.config('SET', 'maxmemory', '1');
    let res;
    try {
      res = await renewal;
    } finally {
      await redis.config('SET', 'maxmemory', '0');
    }
    expect({ status: res.status, events }).toEqual({ status: 200, events: expect.arrayContaining(['token.persist_failed']) });
    expect(res.body.signedIn).toBe(true);

    // Within about a second the kept renewal reaches Redis, for every process to see.
    const deadline = Date.now() + 3000;
    let stored: { version?: number } | undefined;
    while (Date.now() < deadline) {
      stored = JSON.parse((await redis.get(consentKey))!) as { version?: number };
      if (stored?.version === signedInVersion + 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(stored?.version).toBe(signedInVersion + 1);
    expect(events).toContain('token.persisted_late');

    // The next renewal uses the rotated refresh token: the sign-in survived.
    await new Promise((r) => setTimeout(r, 1200));
    expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(true);
    expect(rotating.refreshTokenReuseCount).toBe(0);
    expect(rotating.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(2);
  } finally {
    await split.close();
    await rotating.close();
    await deleteKeys(shared, prefix);
    await deleteKeys(redis, prefix);
    shared.disconnect();
  }
});

describe('session store errors', () => {
  /**
   * The README's session setup on `client`: express-session with connect-redis, passport, the
   * strategy (Redis given only to the session store: the library keeps its records in memory, so
   * only the store meets the fault), spaceTokenRefresh (which guards the store) and
   * spaceErrorHandler. /visit writes the session (and waits for the write), /forget destroys it; what spaceErrorHandler
   * hands on is kept in `handedOn`.
   */
  async function storeApp(client: Redis) {
    const storePrefix = uniquePrefix('store-errors');
    const store = new RedisStore({ client, prefix: `${storePrefix}sess:` });
    const handedOn: unknown[] = [];
    const authenticator = new passport.Passport();
    const strategy = new SpaceStrategy({ spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback' }, (_a, _r, profile, done) => done(null, profile));
    authenticator.use(strategy);
    const app = express();
    app.use(session({ store, secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
    app.use(authenticator.initialize());
    app.use(authenticator.session());
    app.use(spaceTokenRefresh({ strategy }));
    app.get('/visit', (req, res, next) => {
      (req.session as unknown as Record<string, unknown>).visited = true;
      req.session.save((err) => (err ? next(err) : res.status(204).end()));
    });
    app.post('/forget', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.status(204).end())));
    app.use(spaceErrorHandler());
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      handedOn.push(err);
      res.status(500).end();
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      store, handedOn, agent: () => request.agent(url),
      close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
    };
  }

  /** The session id in a `sid` cookie (the part before the signature). */
  const sidOf = (setCookie: string[] | string | undefined) => decodeURIComponent(/sid=s%3A([^.;]+)/.exec(String(setCookie))![1]!);
  const callback = <T>(run: (cb: (err: unknown, value?: T) => void) => void) => new Promise<unknown>((resolve) => run((err) => resolve(err)));

  test('no method of the store answers an error that carries the command\'s arguments: destroy, all, clear, ids, length', async () => {
    const limitedRedis = await startOwnRedis();
    const admin = await connectRedis(limitedRedis.url);
    // A user that may read and write sessions, but not delete or list them.
    await admin.call('ACL', 'SETUSER', 'limited', 'on', '>limited-pw', '~*', '&*', '+@all', '-del', '-unlink', '-mget', '-scan');
    const client = await connectRedis(limitedRedis.url, { username: 'limited', password: 'limited-pw' });
    const app = await storeApp(client);
    try {
      const agent = app.agent();
      const visit = await agent.get('/visit').expect(204);
      const sid = sidOf(visit.headers['set-cookie']);
      const carries = (err: unknown) => inspect(err, { depth: 10, showHidden: true }).includes(sid) || (err as { command?: { args?: unknown } }).command?.args !== undefined;

      // express-session's own destroy, as an app calls it: the error reaches the app's handler.
      expect((await agent.post('/forget')).status).toBe(500);
      expect(app.handedOn).toHaveLength(1);
      expect(String((app.handedOn[0] as Error).message)).toMatch(/^NOPERM/);
      expect(carries(app.handedOn[0])).toBe(false);

      // The store's other methods, called as an admin page would.
      const store = app.store as unknown as Record<'all' | 'clear' | 'ids' | 'length', (cb: (err: unknown) => void) => void>;
      for (const name of ['all', 'clear', 'ids', 'length'] as const) {
        const err = await callback((cb) => store[name](cb));
        expect({ name, message: String((err as Error).message).split(' ')[0] }).toEqual({ name, message: 'NOPERM' });
        expect({ name, carries: carries(err) }).toEqual({ name, carries: false });
      }
    } finally {
      await app.close();
      client.disconnect();
      admin.disconnect();
      await limitedRedis.stop();
    }
  });

  describe('replies that mean Redis is away for now: 503 with Retry-After, not 500', () => {
    let faulty: OwnRedis;
    let dir: string;
    let admin: Redis;
    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'pjs-misconf-'));
      // Snapshots configured (as in production), so a failed one stops writes.
      faulty = await startOwnRedis(['--save', '3600 1', '--dir', dir]);
      admin = await connectRedis(faulty.url);
    });
    afterAll(async () => {
      admin.disconnect();
      await faulty.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    const expectUnavailable = async (res: request.Response) => {
      expect(res.status).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(res.body.error).toBe('temporarily_unavailable');
    };

    test('BUSY: a script runs past busy-reply-threshold', async () => {
      const client = await connectRedis(faulty.url);
      const app = await storeApp(client);
      const looper = await connectRedis(faulty.url, { commandTimeout: undefined });
      try {
        await admin.config('SET', 'busy-reply-threshold', '50');
        looper.eval('while true do end', 0).catch(() => undefined);
        // Until Redis answers BUSY to everyone else.
        for (let busy = false; !busy;) busy = await admin.ping().then(() => false, (err: Error) => /^BUSY /.test(err.message));
        const res = await app.agent().get('/visit').set('Accept', 'application/json');
        await expectUnavailable(res);
        expect(app.handedOn).toEqual([]);
      } finally {
        await admin.call('SCRIPT', 'KILL').catch(() => undefined);
        looper.disconnect();
        await app.close();
        client.disconnect();
      }
    });

    test('MISCONF: a snapshot failed and writes are stopped', async () => {
      const client = await connectRedis(faulty.url);
      const app = await storeApp(client);
      try {
        rmSync(dir, { recursive: true, force: true }); // the snapshot cannot be written
        await admin.bgsave();
        for (let failed = false; !failed;) {
          await new Promise((r) => setTimeout(r, 20));
          failed = /rdb_bgsave_in_progress:0[\s\S]*rdb_last_bgsave_status:err/.test(await admin.info('persistence'));
        }
        const res = await app.agent().get('/visit').set('Accept', 'application/json');
        await expectUnavailable(res);
        expect(app.handedOn).toEqual([]);
      } finally {
        await admin.config('SET', 'stop-writes-on-bgsave-error', 'no');
        await app.close();
        client.disconnect();
      }
    });

    test('NOAUTH: the password changed under a running app', async () => {
      await admin.config('SET', 'requirepass', 'rotated');
      const client = await connectRedis(faulty.url, { enableReadyCheck: false });
      const app = await storeApp(client);
      try {
        const res = await app.agent().get('/visit').set('Accept', 'application/json');
        await expectUnavailable(res);
        expect(app.handedOn).toEqual([]);
      } finally {
        await admin.config('SET', 'requirepass', '');
        await app.close();
        client.disconnect();
      }
    });
  });
});
