/**
 * "Sign out everywhere": the per-user sessions index in a real Redis, two browsers on two app
 * processes, ending one or all sessions, the operator's endSpaceSessionsOf, bounds, expiry and
 * concurrent sign-ins.
 */
import type Redis from 'ioredis';
import { endSpaceSessionsOf, spaceSessions, spaceSignOut } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp, type TestApp } from '../helpers/app';
import { REVOKE_SELF } from '../helpers/emulator';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { cookiesOf } from '../helpers/cookies';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'everywhere-client', clientSecret: 'everywhere-secret', redirectURIs: ['*'] };
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [CLIENT], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('everywhere');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

type Session = { id: string; current: boolean; startedAt: number; lastSeen: number; agent: string };

describe('two browsers, two app processes', () => {
  const workers: Worker[] = [];
  let urls: string[];
  const workerPrefix = () => `${prefix}w:`;
  const startApp = () => startWorker('worker-authorize.js', { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: workerPrefix(), secret: 'w' });

  beforeAll(async () => {
    workers.push(...(await Promise.all([startApp(), startApp()])));
    urls = workers.map((w) => w.url);
  });
  afterAll(() => stopWorkers(workers));

  /** A browser: signs in through one app process, then sends its cookie and User-Agent. */
  async function browser(url: string, agent: string) {
    const start = await fetch(`${url}/auth/space`, { redirect: 'manual', headers: { 'user-agent': agent } });
    const startCookie = cookiesOf(start.headers);
    const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await fetch(`${url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: startCookie, 'user-agent': agent } });
    expect(callback.status).toBe(302);
    const cookie = cookiesOf(callback.headers);
    const call = async (at: string, route: string, method = 'GET') => {
      const r = await fetch(`${at}${route}`, { method, headers: { cookie, 'user-agent': agent, accept: 'application/json' } });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    return {
      call,
      signedIn: async (at: string) => (await call(at, '/whoami')).body.signedIn === true,
      sessions: async (at: string) => (await call(at, '/sessions')).body.sessions as Session[],
    };
  }

  test('each browser sees both sessions, its own marked current, and ids that are neither grants nor session ids', async () => {
    const a = await browser(urls[0]!, FIREFOX);
    const b = await browser(urls[1]!, CHROME);
    const fromA = await a.sessions(urls[1]!);
    expect(fromA).toHaveLength(2);
    expect(fromA.map((s) => [s.agent, s.current]).sort()).toEqual([['Chrome on Windows', false], ['Firefox on Linux', true]]);
    expect(fromA.every((s) => /^[A-Za-z0-9_-]{16}$/.test(s.id) && s.startedAt <= s.lastSeen)).toBe(true);
    const fromB = await b.sessions(urls[0]!);
    expect(fromB.find((s) => s.current)!.agent).toBe('Chrome on Windows');
    expect(new Set(fromB.map((s) => s.id))).toEqual(new Set(fromA.map((s) => s.id)));
    // Clean up for the next test.
    await a.call(urls[0]!, '/sessions/end-all', 'POST');
  });

  test('sign out everywhere from one browser signs both browsers out on every process and revokes at Space', async () => {
    const a = await browser(urls[0]!, FIREFOX);
    const b = await browser(urls[1]!, CHROME);
    expect(await b.signedIn(urls[0]!)).toBe(true);
    expect(await b.signedIn(urls[1]!)).toBe(true);
    space.resetRequests();
    expect((await a.call(urls[1]!, '/sessions/end-all', 'POST')).status).toBe(200);
    for (const url of urls) {
      expect(await a.signedIn(url)).toBe(false);
      expect(await b.signedIn(url)).toBe(false);
    }
    // Both browsers are the same member's: one refresh token (their consent), revoked once.
    expect(space.count(REVOKE_SELF)).toBe(1);
  });

  test('ending one other session, or all but this one, leaves this browser signed in', async () => {
    const a = await browser(urls[0]!, FIREFOX);
    const b = await browser(urls[1]!, CHROME);
    const c = await browser(urls[1]!, CHROME);
    const other = (await a.sessions(urls[0]!)).find((s) => !s.current && s.id !== undefined)!;
    const bID = (await b.sessions(urls[0]!)).find((s) => s.current)!.id;
    expect((await a.call(urls[0]!, `/sessions/end?id=${bID}`, 'POST')).status).toBe(200);
    expect(await b.signedIn(urls[1]!)).toBe(false);
    expect(await c.signedIn(urls[1]!)).toBe(true);
    expect(other).toBeDefined();
    expect((await a.call(urls[1]!, '/sessions/end-all?exceptCurrent=1', 'POST')).status).toBe(200);
    expect(await c.signedIn(urls[0]!)).toBe(false);
    expect(await a.signedIn(urls[1]!)).toBe(true);
    const left = await a.sessions(urls[0]!);
    expect(left).toHaveLength(1);
    expect(left[0]!.current).toBe(true);
    await a.call(urls[0]!, '/sessions/end-all', 'POST');
  });
});

describe('the index', () => {
  let app: TestApp;
  let userId: string;
  beforeAll(async () => {
    app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix: `${prefix}a:`, refresh: {},
      setup: (express, strategy) => {
        express.post('/auth/signout', spaceSignOut({ strategy }));
      },
    });
    app.app.get('/sessions', async (req, res, next) => {
      try {
        res.json(await spaceSessions(req).list());
      } catch (err) {
        next(err);
      }
    });
    userId = '2asfen24Jx6u';
  });
  afterAll(() => app.close());

  /** True while the agent's cookie still authenticates (an ended sign-in gets 401 JSON). */
  const isSignedIn = async (agent: ReturnType<TestApp['agent']>) => {
    const res = await agent.get('/api/token').set('Accept', 'application/json');
    return res.status === 200 && res.body.signedIn === true;
  };
  const indexKey = async () => (await keysUnder(redis, `${prefix}a:space:`)).filter((k) => k.endsWith(':sessions'));

  test('one index per user under its own hash tag, with no token or session id in its name; it expires with the sessions', async () => {
    const agent = app.agent();
    await signIn(agent);
    const keys = await indexKey();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/space:\{u:[A-Za-z0-9_-]{22}\}:sessions$/);
    expect(keys[0]).not.toContain(userId);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400_000 + 1000);
    expect(await endSpaceSessionsOf(userId, { strategy: app.strategy })).toBeGreaterThanOrEqual(1);
  });

  test('concurrent sign-ins of one user are all indexed', async () => {
    await endSpaceSessionsOf(userId, { strategy: app.strategy });
    const agents = Array.from({ length: 12 }, () => app.agent());
    await Promise.all(agents.map((agent) => signIn(agent)));
    for (const agent of agents) expect(await isSignedIn(agent)).toBe(true);
    const listed = (await agents[0]!.get('/sessions')).body as Session[];
    expect(listed).toHaveLength(12);
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    expect(await endSpaceSessionsOf(userId, { strategy: app.strategy })).toBe(12);
    for (const agent of agents) expect(await isSignedIn(agent)).toBe(false);
  });

  test('a session signed out the ordinary way drops out of the list', async () => {
    const a = app.agent();
    const b = app.agent();
    await signIn(a);
    await signIn(b);
    expect((await a.get('/sessions')).body).toHaveLength(2);
    expect((await b.post('/auth/signout').set('Accept', 'application/json')).status).toBe(204);
    const left = (await a.get('/sessions')).body as Session[];
    expect(left).toHaveLength(1);
    expect(left[0]!.current).toBe(true);
    await endSpaceSessionsOf(userId, { strategy: app.strategy });
  });

  test('the index is bounded: past 50 sessions the least recently seen is signed out, not forgotten', async () => {
    const first = app.agent();
    await signIn(first);
    await sleep(5);
    expect(await isSignedIn(first)).toBe(true);
    const later = [];
    for (let i = 0; i < 50; i++) {
      const agent = app.agent();
      await signIn(agent);
      later.push(agent);
    }
    expect(await isSignedIn(first)).toBe(false);
    expect(await isSignedIn(later[0]!)).toBe(true);
    const flat = await redis.hlen((await indexKey())[0]!);
    expect(flat).toBe(50);
    expect(await endSpaceSessionsOf(userId, { strategy: app.strategy })).toBe(50);
  });
});

describe('every session is signed out before Space is asked to revoke any', () => {
  // Adapted to the consent model: the four browsers are one member's, so they share one refresh
  // token (their consent), revoked once, when the last of them leaves it. Each test has a Space
  // of its own, so the member holds no refresh token when the test starts (Space issues one per
  // member and app, while they hold none) and an earlier test's revocation, still on its way
  // after its 3 s delay, cannot change what this one's exchanges are given.
  let own: SpaceEmulator;

  /** An app whose /end-all route is spaceSessions(req).endAll(); four browsers of john.doe signed in. */
  async function fourSessions(name: string) {
    own = await startSpaceEmulator({ port: 0, clients: [CLIENT], autoApprove: 'john.doe' });
    const appPrefix = `${prefix}${name}:`;
    const app = await startTestApp({ spaceURL: own.url, ...CLIENT, redis, prefix: appPrefix, refresh: {} });
    app.app.post('/end-all', async (req, res, next) => {
      try {
        await spaceSessions(req).endAll();
        res.status(204).end();
      } catch (err) {
        next(err);
      }
    });
    const agents = [app.agent(), app.agent(), app.agent(), app.agent()];
    for (const agent of agents) await signIn(agent);
    const keys = (await keysUnder(redis, `${appPrefix}space:`)).filter((k) => k.endsWith(':tokens'));
    // Four sign-ins' records, and the member's consent (the refresh token), `{c:<hash>}:tokens`.
    const records = keys.filter((k) => !k.includes('{c:'));
    expect(records).toHaveLength(4);
    expect(keys.filter((k) => k.includes('{c:'))).toHaveLength(1);
    return { app, agents, records };
  }

  const revocations = () => own.requests.filter((r) => r.path === REVOKE_SELF);
  /** Waits until Space has seen a revocation arrive (not answered: Space takes 3 s). */
  async function firstRevocation(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (revocations().length === 0) {
      if (Date.now() > deadline) throw new Error('no revocation reached Space');
      await sleep(5);
    }
  }
  const ended = async (key: string) => JSON.parse((await redis.get(key))!).ended === true;

  for (const [how, end] of [
    ['spaceSessions(req).endAll()', (t: Awaited<ReturnType<typeof fourSessions>>) => t.agents[0]!.post('/end-all').then((r) => expect(r.status).toBe(204))],
    ['endSpaceSessionsOf(userId)', (t: Awaited<ReturnType<typeof fourSessions>>) => endSpaceSessionsOf('2asfen24Jx6u', { strategy: t.app.strategy }).then((n) => expect(n).toBe(4))],
  ] as const) {
    test(`${how}: with Space answering revocations in 3 s, all four sessions are ended in Redis before the revocation reaches Space, and the member's refresh token is revoked once`, async () => {
      const t = await fourSessions(how.replace(/\W+/g, '-'));
      let done: Promise<unknown> | undefined;
      try {
        own.resetRequests();
        own.inject({ path: REVOKE_SELF, delayMs: 3000 });
        const started = Date.now();
        done = end(t);
        await firstRevocation();
        // The moment Space hears of the revocation, every session is already ended.
        const marks = await Promise.all(t.records.map(ended));
        expect(marks).toEqual([true, true, true, true]);
        for (const agent of t.agents.slice(1)) expect((await agent.get('/api/token').set('Accept', 'application/json')).status).toBe(401);
        await done; // within the revocations' deadline, answered or not
        expect(Date.now() - started).toBeLessThan(6000);
        // One member, one consent: one revocation, not one per browser.
        expect(revocations()).toHaveLength(1);
      } finally {
        await done?.catch(() => undefined); // never leave the ending running past the test
        own.clearFaults();
        await t.app.close();
        await own.close();
      }
    });
  }
});

describe('expiry', () => {
  test('entries and the index live as long as the sessions: a 2 s session leaves nothing after 2 s', async () => {
    const short = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: `${prefix}x:`, refresh: {}, strategy: { tokenTTL: 2000 } });
    try {
      await signIn(short.agent());
      const keys = (await keysUnder(redis, `${prefix}x:space:`)).filter((k) => k.endsWith(':sessions'));
      expect(keys).toHaveLength(1);
      expect(await redis.pttl(keys[0]!)).toBeLessThanOrEqual(2000);
      await sleep(2100);
      expect(await redis.exists(keys[0]!)).toBe(0);
    } finally {
      await short.close();
    }
  });
});

describe('without Redis', () => {
  test('the in-memory store keeps the same index within the process', async () => {
    const local = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix: `${prefix}m:`, refresh: { redis: 'none' } });
    local.app.get('/sessions', async (req, res, next) => {
      try {
        res.json(await spaceSessions(req).list());
      } catch (err) {
        next(err);
      }
    });
    try {
      const a = local.agent();
      const b = local.agent();
      await signIn(a);
      await signIn(b);
      expect((await a.get('/sessions')).body).toHaveLength(2);
      expect(await endSpaceSessionsOf('2asfen24Jx6u', { strategy: local.strategy })).toBe(2);
      for (const agent of [a, b]) expect((await agent.get('/api/token').set('Accept', 'application/json')).status).toBe(401);
      expect(await keysUnder(redis, `${prefix}m:space:`)).toEqual([]);
    } finally {
      await local.close();
    }
  });
});
