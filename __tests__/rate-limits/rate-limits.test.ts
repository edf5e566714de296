/**
 * Rate limits of the sign-in start, the callback and verifySpaceRequest: counted in a real Redis
 * by two app processes together, answered 429 with Retry-After (JSON for API requests, a page for
 * a browser), bounded in keys however many addresses a flood comes from, never reaching Space;
 * per member when the request names one; off with `rateLimit: false`; in the process without Redis.
 */
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { SpaceStrategy } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'limits-client', clientSecret: 'limits-secret', redirectURIs: ['*'] };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [CLIENT], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('limits');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('two app processes sharing Redis', () => {
  const workers: Worker[] = [];
  let urls: string[];
  const own = () => `${prefix}w:`;
  const counters = async () => (await keysUnder(redis, `${own()}space:{rl:`));

  beforeAll(async () => {
    const config = {
      spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: own(), secret: 's', trustProxy: 'loopback',
      signingKey: space.signingKey(CLIENT.clientID),
      shared: { rateLimit: { signIn: { max: 10, windowMs: 60_000 }, callback: { max: 10 }, webhook: { max: 5 }, buckets: 4096 } },
    };
    workers.push(...(await Promise.all([startWorker('worker-ops.js', config), startWorker('worker-ops.js', config)])));
    urls = workers.map((w) => w.url);
  });
  afterAll(() => stopWorkers(workers));
  // Each test starts with no counter (they live a minute).
  beforeEach(() => deleteKeys(redis, `${own()}space:{rl:`));

  const start = (i: number, from: string, accept = 'text/html') =>
    fetch(`${urls[i % 2]}/auth/space`, { redirect: 'manual', headers: { 'x-forwarded-for': from, accept } });

  test('a flood of sign-in starts from one address: the two processes count together, then 429 with Retry-After', async () => {
    const pendingBefore = (await keysUnder(redis, `${own()}space:{p:`)).length;
    const answers = [];
    for (let i = 0; i < 16; i++) answers.push(await start(i, '203.0.113.7'));
    expect(answers.map((r) => r.status)).toEqual([...Array(10).fill(302), ...Array(6).fill(429)]);
    const refused = answers[10]!;
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // A browser gets a short page; an API client JSON.
    expect(refused.headers.get('content-type')).toMatch(/text\/html/);
    expect(await refused.text()).toContain('Too many sign-in attempts');
    const api = await start(0, '203.0.113.7', 'application/json');
    expect(api.status).toBe(429);
    expect(await api.json()).toEqual({ error: 'rate_limited', error_description: expect.stringMatching(/^Too many sign-in attempts from your network; try again in \d+ s$/) });
    // Refused starts stored nothing: ten pending sign-ins, one counter.
    expect((await keysUnder(redis, `${own()}space:{p:`)).length - pendingBefore).toBe(10);
    expect(await counters()).toHaveLength(1);
    // Another address is not held back by this one's count.
    expect((await start(0, '198.51.100.23')).status).toBe(302);
    const events = (await Promise.all(urls.map(async (u) => (await fetch(`${u}/events`)).json() as Promise<Array<{ event: string; reason?: string }>>))).flat();
    expect(events.filter((e) => e.event === 'ratelimit.exceeded')).toEqual([{ event: 'ratelimit.exceeded', reason: 'signIn' }]);
  });

  test('forged callbacks with a sign-in cookie: refused before the state is looked up once over the limit, never reaching Space, one counter', async () => {
    space.resetRequests();
    const random = () => randomBytes(32).toString('base64url');
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) {
      const r = await fetch(`${urls[i % 2]}/auth/space/callback?code=${random()}&state=${random()}`, {
        redirect: 'manual', headers: { 'x-forwarded-for': '203.0.113.9', cookie: `space.signin=${random()}` },
      });
      statuses.push(r.status);
    }
    // The first ten fail as forged (no such pending sign-in); the rest are not even looked at.
    expect(statuses.slice(0, 10).every((s) => s !== 429)).toBe(true);
    expect(statuses.slice(10)).toEqual(Array(30).fill(429));
    expect(space.count('/oauth/token')).toBe(0);
    expect(await counters()).toHaveLength(1);
    // Without a sign-in cookie a forged callback costs nothing (no Redis, no Space) and is not counted.
    const bare = await fetch(`${urls[0]}/auth/space/callback?code=${random()}&state=${random()}`, { redirect: 'manual', headers: { 'x-forwarded-for': '203.0.113.9' } });
    expect(bare.status).not.toBe(429);
  });

  test('verifySpaceRequest: refused requests count per address across processes, then 429; Space\'s own requests never count', async () => {
    const endpoint = (i: number) => `${urls[i % 2]}/space/endpoint`;
    const payload = { className: 'ListCommandsPayload', clientId: CLIENT.clientID, userId: 'u' };
    // Signed requests from Space's address, however many, are accepted and not counted.
    for (let i = 0; i < 12; i++) {
      expect((await space.sendToApp(endpoint(i), payload, { method: 'signing-key', headers: { 'X-Forwarded-For': '198.51.100.1' } })).status).toBe(200);
    }
    const forged = (i: number) => space.sendToApp(endpoint(i), payload, { method: 'signing-key', tamper: 'signature', headers: { 'X-Forwarded-For': '203.0.113.66' } });
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await forged(i)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    const refused = await forged(0);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused.body).error).toBe('rate_limited');
    // Space, from its own address, is still heard.
    expect((await space.sendToApp(endpoint(1), payload, { method: 'signing-key', headers: { 'X-Forwarded-For': '198.51.100.1' } })).status).toBe(200);
  });
});

describe('one process', () => {
  test('per member: a signed-in member starting sign-ins from ever new addresses is held to the limit', async () => {
    const own = `${prefix}member:`;
    const app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix: own,
      strategy: { rateLimit: { signIn: { max: 3 } } },
      setup: (express) => express.set('trust proxy', 'loopback'),
    });
    try {
      const agent = app.agent();
      await signIn(agent); // one start, from 127.0.0.1, before the member was known
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await agent.get('/auth/space').set('x-forwarded-for', `192.0.2.${i + 1}`)).status);
      expect(statuses).toEqual([302, 302, 302, 429, 429]);
      expect((await keysUnder(redis, `${own}space:{rl:signIn:m`))).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  test('a flood from many addresses never holds more counters than `buckets`', async () => {
    const own = `${prefix}buckets:`;
    const app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix: own,
      strategy: { rateLimit: { signIn: { max: 10 }, buckets: 8 } },
      setup: (express) => express.set('trust proxy', 'loopback'),
    });
    try {
      const from = (address: string) => fetch(`${app.url}/auth/space`, { redirect: 'manual', headers: { 'x-forwarded-for': address } });
      for (let i = 0; i < 120; i++) await from(`192.0.2.${i}`);
      for (let i = 0; i < 40; i++) await from(`2001:db8:${i.toString(16)}::1`);
      const keys = await keysUnder(redis, `${own}space:{rl:`);
      expect(keys.length).toBeGreaterThan(1);
      expect(keys.length).toBeLessThanOrEqual(8);
      // Key names hold a bucket number, never an address; each lives one window.
      expect(keys.join(' ')).not.toMatch(/192\.0\.2|2001|db8/);
      expect(keys.every((k) => /\{rl:signIn:a\d+\}:count$/.test(k))).toBe(true);
      for (const k of keys) expect(await redis.pttl(k)).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  test('rateLimit: false lets every start through and counts nothing', async () => {
    const own = `${prefix}off:`;
    const app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: own, strategy: { rateLimit: false } });
    try {
      for (let i = 0; i < 40; i++) expect((await fetch(`${app.url}/auth/space`, { redirect: 'manual' })).status).toBe(302);
      expect(await keysUnder(redis, `${own}space:{rl:`)).toEqual([]);
    } finally {
      await app.close();
    }
  });

  test('without Redis the limits are counted in the process, in a bounded map', async () => {
    const own = `${prefix}memory:`;
    const app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: own, strategy: { rateLimit: { signIn: { max: 5 } } }, refresh: { redis: 'none' } });
    try {
      const statuses = [];
      for (let i = 0; i < 7; i++) statuses.push((await fetch(`${app.url}/auth/space`, { redirect: 'manual' })).status);
      expect(statuses).toEqual([302, 302, 302, 302, 302, 429, 429]);
      expect(await keysUnder(redis, `${own}space:`)).toEqual([]);
      const kv = app.strategy.runtime.kv as unknown as { data: { size: number } };
      // Five pending sign-ins' sets and one counter at most, not one entry per request.
      expect(kv.data.size).toBeLessThanOrEqual(6);
    } finally {
      await app.close();
    }
  });

  test('a bad rateLimit is a TypeError that names it', () => {
    const make = (rateLimit: unknown) => new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'a', clientSecret: 'b', callbackURL: '/cb', rateLimit } as never, () => undefined);
    expect(() => make({ signIn: { max: 0 } })).toThrow(/"rateLimit\.signIn\.max" must be an integer >= 1/);
    expect(() => make({ signin: { max: 3 } })).toThrow(/has no option "signin" \(did you mean "signIn"\?\)/);
    expect(() => make({ webhook: { windowMs: 1.5 } })).toThrow(TypeError);
    expect(() => make(true)).toThrow(/"rateLimit" must be false or an object/);
    expect(() => make({ callback: false, buckets: 16 })).not.toThrow();
  });
});
