/**
 * spaceEvents after verifySpaceRequest, with the emulator sending what Space sends, a real Redis and
 * two app processes: a member archived, suspended or gone is signed out in every browser on every
 * process at once; an uninstall signs everyone out; other payloads and other applications' news
 * go on untouched.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceEvents, spaceRawBody, verifySpaceRequest } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp } from '../helpers/app';
import { cookiesOf } from '../helpers/cookies';
import { connectRedis, deleteKeys, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'events-client', clientSecret: 'events-secret', redirectURIs: ['*'] };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [CLIENT] });
  redis = await connectRedis();
  prefix = uniquePrefix('space-events');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

describe('two app processes', () => {
  const workers: Worker[] = [];
  let urls: string[];
  const endpoint = (i: number) => `${urls[i]}/space/endpoint`;
  const send: SpaceEmulator['sendEvent'] = (url, kind, options = {}) => space.sendEvent(url, kind, { method: 'signing-key', ...options });

  beforeAll(async () => {
    const config = { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: `${prefix}w:`, secret: 's', signingKey: space.signingKey(CLIENT.clientID) };
    workers.push(...(await Promise.all([startWorker('worker-ops.js', config), startWorker('worker-ops.js', config)])));
    urls = workers.map((w) => w.url);
  });
  afterAll(() => stopWorkers(workers));

  /** A browser of `member`, signed in through process `via`. */
  async function browser(member: string, via: number) {
    space.setAutoApprove(member);
    const start = await fetch(`${urls[via]}/auth/space`, { redirect: 'manual' });
    const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await fetch(`${urls[via]}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: cookiesOf(start.headers) } });
    expect(callback.status).toBe(302);
    const cookie = cookiesOf(callback.headers);
    const signedIn = async (at: number) => {
      const r = await fetch(`${urls[at]}/api/me`, { headers: { cookie, accept: 'application/json' } });
      return r.status === 200 && ((await r.json()) as { signedIn: boolean }).signedIn;
    };
    for (const at of [0, 1]) expect(await signedIn(at)).toBe(true);
    return { signedIn };
  }

  /** Polls until the browser is signed out on process `at` (a generous limit); how long it took, ms. */
  async function signedOutWithin(b: { signedIn: (at: number) => Promise<boolean> }, at: number, limit = 5000): Promise<number> {
    const from = Date.now();
    while (await b.signedIn(at)) {
      if (Date.now() - from > limit) throw new Error(`still signed in on process ${at} after ${limit} ms`);
      await sleep(50);
    }
    return Date.now() - from;
  }

  const eventsOf = async () => (await Promise.all(urls.map(async (u) => (await fetch(`${u}/events`)).json() as Promise<Array<{ event: string; reason?: string }>>))).flat();

  test('a member archived in Space is signed out in every browser, on both processes, as soon as Space is answered', async () => {
    const johnA = await browser('john.doe', 0);
    const johnB = await browser('john.doe', 1);
    const jane = await browser('jane.roe', 0);
    const answer = await send(endpoint(0), 'member.archived', { member: 'john.doe' });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({});
    // The request after the answer is refused, on the process that heard Space and on the other.
    for (const b of [johnA, johnB]) {
      for (const at of [0, 1]) expect(await signedOutWithin(b, at)).toBeLessThan(1000);
    }
    expect(await jane.signedIn(1)).toBe(true);
    const events = await eventsOf();
    expect(events.filter((e) => e.event === 'session.ended' && e.reason === 'member_archived')).toHaveLength(2);
    expect(events).toEqual(expect.arrayContaining([{ event: 'space.event', reason: 'member_archived' }]));
  });

  test.each([
    ['member.suspended', 'member_suspended'],
    ['member.left', 'member_left_organization'],
  ] as const)('%s signs the member out everywhere', async (kind, reason) => {
    const john = await browser('john.doe', 1);
    expect((await send(endpoint(1), kind, { member: 'john.doe' })).status).toBe(200);
    for (const at of [0, 1]) await signedOutWithin(john, at);
    expect(await eventsOf()).toEqual(expect.arrayContaining([{ event: 'session.ended', reason }]));
  });

  test('an uninstall signs every member out; news of another application, or other payloads, go on to the next handler', async () => {
    const john = await browser('john.doe', 0);
    const jane = await browser('jane.roe', 1);
    // Signed with this application's key, but about another one: not acted on.
    const foreign = await space.sendToApp(endpoint(1), { className: 'ApplicationUninstalledPayload', clientId: 'another-app', serverUrl: space.url }, { clientId: CLIENT.clientID, method: 'signing-key' });
    expect(JSON.parse(foreign.body)).toEqual({ other: true });
    const commands = await space.sendToApp(endpoint(0), { className: 'ListCommandsPayload', clientId: CLIENT.clientID, userId: 'u' }, { method: 'signing-key' });
    expect(JSON.parse(commands.body)).toEqual({ other: true });
    expect(await john.signedIn(0)).toBe(true);
    expect(await jane.signedIn(0)).toBe(true);

    expect((await send(endpoint(1), 'app.uninstalled')).status).toBe(200);
    for (const b of [john, jane]) for (const at of [0, 1]) await signedOutWithin(b, at);
    expect(await eventsOf()).toEqual(expect.arrayContaining([{ event: 'space.event', reason: 'app_uninstalled' }]));
  });

  test('an event not proven to come from Space ends nothing', async () => {
    const john = await browser('john.doe', 0);
    const forged = await send(endpoint(0), 'member.archived', { member: 'john.doe', tamper: 'signature' });
    expect(forged.status).toBe(401);
    expect(await john.signedIn(1)).toBe(true);
  });
});

describe('one process', () => {
  test('field names are options: a member flag of your own, at a path of your own', async () => {
    const own = `${prefix}options:`;
    const signingKey = space.signingKey(CLIENT.clientID);
    space.setAutoApprove('john.doe');
    const app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix: own, refresh: {},
      setup: (ex, strategy) => ex.post('/space/endpoint', express.json({ verify: spaceRawBody }), verifySpaceRequest({ strategy, signingKey }),
        spaceEvents({ strategy, memberPath: 'event.profile', memberFlags: ['deactivated'], eventFlags: [], passOn: true }),
        (_req, res) => res.json(res.locals.spaceEvent ?? null)),
    });
    try {
      const agent = app.agent();
      await signIn(agent);
      const john = space.users.find((u) => u.username === 'john.doe')!;
      // The default reading does not apply any more: `payload.member.archived` is not looked at.
      const archived = await space.sendToApp(`${app.url}/space/endpoint`, space.eventPayload('member.archived', { member: 'john.doe' }), { method: 'signing-key' });
      expect(JSON.parse(archived.body)).toBeNull();
      expect((await agent.get('/api/token')).body.signedIn).toBe(true);
      const custom = await space.sendToApp(`${app.url}/space/endpoint`, { className: 'Custom', clientId: CLIENT.clientID, event: { profile: { id: john.id, deactivated: true } } }, { method: 'signing-key' });
      expect(JSON.parse(custom.body)).toEqual({ reason: 'member_deactivated', ended: 1 });
      expect((await agent.get('/api/token').set('accept', 'application/json')).status).toBe(401);
    } finally {
      await app.close();
    }
  });

  test('without Redis (one process), an uninstall ends every sign-in of the process', async () => {
    const signingKey = space.signingKey(CLIENT.clientID);
    const app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix: `${prefix}memory:`, refresh: { redis: 'none' },
      setup: (ex, strategy) => ex.post('/space/endpoint', express.json({ verify: spaceRawBody }), verifySpaceRequest({ strategy, signingKey }), spaceEvents({ strategy })),
    });
    try {
      const agents = [app.agent(), app.agent()];
      space.setAutoApprove('john.doe');
      await signIn(agents[0]!);
      space.setAutoApprove('jane.roe');
      await signIn(agents[1]!);
      for (const agent of agents) expect((await agent.get('/api/token')).body.signedIn).toBe(true);
      expect((await space.sendEvent(`${app.url}/space/endpoint`, 'app.uninstalled', { method: 'signing-key' })).status).toBe(200);
      for (const agent of agents) expect((await agent.get('/api/token').set('accept', 'application/json')).status).toBe(401);
    } finally {
      await app.close();
    }
  });

  test('mounted without verifySpaceRequest, it says how to fix it and acts on nothing', async () => {
    const strategy = new SpaceStrategy({ spaceURL: space.url, clientID: CLIENT.clientID, clientSecret: CLIENT.clientSecret, callbackURL: '/cb' }, (_a, _r, p, d) => d(null, p));
    const app = express();
    app.post('/space/endpoint', express.json(), spaceEvents({ strategy }));
    const server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const res = await space.sendEvent(`http://127.0.0.1:${(server.address() as AddressInfo).port}/space/endpoint`, 'app.uninstalled');
      expect(res.status).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ error: 'server_misconfigured', error_description: expect.stringContaining('mount verifySpaceRequest') });
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  test('bad options are TypeErrors that name them', () => {
    const strategy = new SpaceStrategy({ spaceURL: space.url, clientID: CLIENT.clientID, clientSecret: CLIENT.clientSecret, callbackURL: '/cb' }, (_a, _r, p, d) => d(null, p));
    expect(() => spaceEvents({} as never)).toThrow(/requires a "strategy" option/);
    expect(() => spaceEvents({ strategy, memberPath: 'payload..member' })).toThrow(/"memberPath" must be a dot path/);
    expect(() => spaceEvents({ strategy, memberFlags: 'archived' as never })).toThrow(/"memberFlags" must be a list/);
    expect(() => spaceEvents({ strategy, passOn: 'yes' as never })).toThrow(/"passOn" must be a boolean/);
    expect(() => spaceEvents({ strategy, memberflags: [] } as never)).toThrow(/has no option "memberflags" \(did you mean "memberFlags"\?\)/);
  });
});
