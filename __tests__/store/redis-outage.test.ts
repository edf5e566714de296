import type Redis from 'ioredis';
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
