/**
 * Session lifetimes (idleTimeout, absoluteTimeout) with a real Redis, the emulator and two app
 * processes: activity in one process keeps a sign-in alive in the other; a sign-in nobody used for
 * idleTimeout, or older than absoluteTimeout, is signed out on every process (pages sent to sign in
 * again and back, API requests 401 JSON), with `session.ended` and its reason; "last activity" is
 * written once per tenth of idleTimeout, not per request.
 */
import type Redis from 'ioredis';
import { SpaceStrategy } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp } from '../helpers/app';
import { cookiesOf } from '../helpers/cookies';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'lifetimes-client', clientSecret: 'lifetimes-secret', redirectURIs: ['*'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [CLIENT], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('lifetimes');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

/** A browser signed in through `url`: its cookie, and calls as a page or as an API client. */
async function browser(url: string) {
  const start = await fetch(`${url}/auth/space`, { redirect: 'manual' });
  const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  const callback = await fetch(`${url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: cookiesOf(start.headers) } });
  expect(callback.status).toBe(302);
  const cookie = cookiesOf(callback.headers);
  return {
    api: async (at: string) => {
      const r = await fetch(`${at}/api/me`, { headers: { cookie, accept: 'application/json' } });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
    page: async (at: string) => {
      const r = await fetch(`${at}/page`, { redirect: 'manual', headers: { cookie, accept: 'text/html' } });
      return { status: r.status, location: r.headers.get('location') };
    },
  };
}

const eventsOf = async (urls: string[]) => (await Promise.all(urls.map(async (u) => (await fetch(`${u}/events`)).json() as Promise<Array<{ event: string; reason?: string }>>))).flat();

describe('idleTimeout, two app processes', () => {
  const workers: Worker[] = [];
  let a: string;
  let b: string;
  beforeAll(async () => {
    const config = { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: `${prefix}idle:`, secret: 's', shared: { idleTimeout: 2000 } };
    workers.push(...(await Promise.all([startWorker('worker-ops.js', config), startWorker('worker-ops.js', config)])));
    [a, b] = workers.map((w) => w.url) as [string, string];
  });
  afterAll(() => stopWorkers(workers));

  test('requests on the other process keep a sign-in alive; unused for idleTimeout it ends on both, page and API alike', async () => {
    const viaApi = await browser(a);
    const viaPage = await browser(b);
    // Four seconds (twice idleTimeout) of requests on process B only: process A has not seen the
    // first sign-in since its callback, so it must learn B's activity from Redis to let it in.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      expect((await viaApi.api(b)).body.signedIn).toBe(true);
      expect((await viaPage.api(b)).body.signedIn).toBe(true);
      await sleep(250);
    }
    expect((await viaApi.api(a)).body.signedIn).toBe(true);
    expect((await viaPage.api(a)).body.signedIn).toBe(true);

    await sleep(3500); // idleTimeout (2 s) and a generous margin, with no request anywhere
    const api = await viaApi.api(b);
    expect(api.status).toBe(401);
    expect(api.body.error).toBe('unauthenticated');
    // A page is sent to sign in again, and back to where it was.
    expect(await viaPage.page(a)).toEqual({ status: 302, location: '/auth/space?returnTo=%2Fpage' });
    // Signed out for good, on both processes.
    for (const url of [a, b]) {
      expect((await viaApi.api(url)).body.signedIn).toBe(false);
      expect((await viaPage.api(url)).body.signedIn).toBe(false);
    }
    expect(await eventsOf([a, b])).toEqual(expect.arrayContaining([{ event: 'session.ended', reason: 'idle_timeout' }]));
  });

  test('a sign-in used now and then, never idle for idleTimeout, stays signed in', async () => {
    const user = await browser(a);
    for (let i = 0; i < 6; i++) {
      await sleep(700);
      expect((await user.api(i % 2 ? a : b)).body.signedIn).toBe(true);
    }
  });
});

describe('absoluteTimeout, two app processes', () => {
  const workers: Worker[] = [];
  let urls: string[];
  beforeAll(async () => {
    const config = { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: `${prefix}absolute:`, secret: 's', shared: { absoluteTimeout: 3000 } };
    workers.push(...(await Promise.all([startWorker('worker-ops.js', config), startWorker('worker-ops.js', config)])));
    urls = workers.map((w) => w.url);
  });
  afterAll(() => stopWorkers(workers));

  test('a sign-in in constant use ends absoluteTimeout after it started, on both processes', async () => {
    const started = Date.now();
    const user = await browser(urls[0]!);
    let refusedAt: number | undefined;
    for (let i = 0; Date.now() - started < 10_000; i++) {
      const answer = await user.api(urls[i % 2]!);
      if (answer.status === 401) {
        refusedAt = Date.now();
        break;
      }
      expect(answer.body.signedIn).toBe(true);
      await sleep(200);
    }
    expect(refusedAt).toBeDefined();
    // Not before its time (the start is the callback's, after `started`), whatever the activity.
    expect(refusedAt! - started).toBeGreaterThanOrEqual(3000);
    for (const url of urls) expect((await user.api(url)).body.signedIn).toBe(false);
    expect(await eventsOf(urls)).toEqual(expect.arrayContaining([{ event: 'session.ended', reason: 'absolute_timeout' }]));
  });
});

describe('writes', () => {
  test('last activity is written at most once per tenth of idleTimeout, not once per request', async () => {
    const own = `${prefix}writes:`;
    const app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: own, strategy: { idleTimeout: 60_000 }, refresh: {} });
    const monitor = await redis.duplicate().monitor();
    const lifeCommands: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      if (args.some((x) => typeof x === 'string' && x.startsWith(own) && x.endsWith(':life'))) lifeCommands.push(args.map(String));
    });
    try {
      const agent = app.agent();
      await signIn(agent);
      // The start and first activity are written at sign-in, before the callback answers.
      const [life] = await keysUnder(redis, `${own}space:{`).then((keys) => keys.filter((k) => k.endsWith(':life')));
      expect(life).toBeDefined();
      expect(Number(await redis.hget(life!, 'start'))).toBeGreaterThan(0);
      await redis.ping();
      await sleep(100);
      const before = lifeCommands.length;
      for (let i = 0; i < 30; i++) expect((await agent.get('/api/token')).body.signedIn).toBe(true);
      await redis.ping();
      await sleep(100);
      // Thirty requests within far less than 6 s (a tenth of idleTimeout): nothing more written.
      expect(lifeCommands.length - before).toBe(0);
    } finally {
      monitor.disconnect();
      await app.close();
    }
  });

  test('without idleTimeout or absoluteTimeout, nothing is written', async () => {
    const own = `${prefix}off:`;
    const app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: own, refresh: {} });
    try {
      const agent = app.agent();
      await signIn(agent);
      expect((await agent.get('/api/token')).body.signedIn).toBe(true);
      expect((await keysUnder(redis, own)).filter((k) => k.endsWith(':life'))).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

test('a bad idleTimeout or absoluteTimeout is a TypeError that says what is allowed', () => {
  const make = (extra: object) => new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'a', clientSecret: 'b', callbackURL: '/cb', ...extra }, () => undefined);
  expect(() => make({ idleTimeout: 500 })).toThrow(/"idleTimeout" must be 0 \(never\) or a whole number of ms, at least 1000, got 500/);
  expect(() => make({ absoluteTimeout: 1500.5 })).toThrow(/"absoluteTimeout" must be 0 \(never\)/);
  expect(() => make({ idleTimeout: '30m' })).toThrow(/got string/);
  expect(() => make({ idleTimeout: 0, absoluteTimeout: 3_600_000 })).not.toThrow();
});
