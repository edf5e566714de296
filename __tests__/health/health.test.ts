/**
 * spaceHealth, as a load balancer probes it: 200 while Redis and Space answer, 503 with
 * Retry-After naming what is down (a redis-server of the test's own, stopped; the emulator,
 * closed), and at most one Redis command and one Space request per cacheTTL however many probes.
 */
import request from 'supertest';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceHealth } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { connectRedis, deleteKeys, startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';
import { OPS_CLIENT, startOpsApp, type OpsApp } from '../helpers/ops-app';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  redis = await connectRedis();
});
beforeEach(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [OPS_CLIENT], autoApprove: 'john.doe' });
  prefix = uniquePrefix('health');
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await space.close();
  await deleteKeys(redis, prefix);
});
afterAll(() => redis.disconnect());

async function start(options: Partial<Parameters<typeof startOpsApp>[0]> = {}): Promise<OpsApp> {
  const app = await startOpsApp({ spaceURL: space.url, redis, prefix, ...options });
  closers.push(() => app.close());
  return app;
}
const probe = (app: OpsApp) => request(app.url).get('/healthz');

test('200 with what was checked, never stored by a cache', async () => {
  const app = await start();
  const res = await probe(app).expect(200);
  expect(res.body).toEqual({ status: 'ok', redis: 'ok', space: 'ok' });
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.headers['retry-after']).toBeUndefined();
  expect(res.headers['set-cookie']).toBeUndefined();
  expect(space.count('/oauth/jwks.json')).toBe(1);
});

test('Redis stopped: 503 with Retry-After, naming Redis; ok again once it is back and the check is old', async () => {
  const own: OwnRedis = await startOwnRedis();
  closers.push(() => own.stop());
  const library = await connectRedis(own.url);
  closers.push(async () => { library.disconnect(); });
  const app = await start({ libraryRedis: library, cacheTTL: 300 });
  await probe(app).expect(200);
  await own.stop();
  await sleep(350);
  const res = await probe(app).expect(503);
  expect(res.body).toEqual({ status: 'unavailable', redis: 'down', space: 'ok' });
  expect(res.headers['retry-after']).toBe('1');
  await own.start();
  await library.connect().catch(() => undefined); // the fail-fast client may have given up reconnecting
  for (let i = 0; i < 40 && library.status !== 'ready'; i++) await sleep(50);
  await sleep(350);
  expect((await probe(app).expect(200)).body.redis).toBe('ok');
});

test('Space away: 503 naming Space, within the timeout', async () => {
  const app = await start();
  await space.close();
  const res = await probe(app).expect(503);
  expect(res.body).toEqual({ status: 'unavailable', redis: 'ok', space: 'down' });
  expect(res.headers['retry-after']).toBe('5');
});

test('Space answering 5xx is down; a 404 (an older Space) is up', async () => {
  const app = await start({ cacheTTL: 0 });
  space.inject({ path: '/oauth/jwks.json', status: 502, times: 1 });
  expect((await probe(app).expect(503)).body.space).toBe('down');
  space.inject({ path: '/oauth/jwks.json', status: 404, times: 1 });
  expect((await probe(app).expect(200)).body.space).toBe('ok');
});

test('100 probes at once make one Space request and at most one Redis command; the next after cacheTTL makes one more', async () => {
  const app = await start({ cacheTTL: 1000 });
  // The runtime measures Redis's clock once when it is built: build it before counting.
  await app.strategy.runtime.clock.start();
  const time = jest.spyOn(redis, 'time');
  const answers = await Promise.all(Array.from({ length: 100 }, () => probe(app)));
  expect(answers.map((r) => r.status)).toEqual(Array(100).fill(200));
  expect(space.count('/oauth/jwks.json')).toBe(1);
  expect(time.mock.calls.length).toBe(1);
  await Promise.all(Array.from({ length: 20 }, () => probe(app)));
  expect(space.count('/oauth/jwks.json')).toBe(1);
  await sleep(1100);
  await Promise.all(Array.from({ length: 20 }, () => probe(app)));
  expect(space.count('/oauth/jwks.json')).toBe(2);
  expect(time.mock.calls.length).toBe(2);
  time.mockRestore();
});

test('without Redis the library runs on its in-process store: redis "none", still 200', async () => {
  const app = await start({ libraryRedis: false });
  expect((await probe(app).expect(200)).body).toEqual({ status: 'ok', redis: 'none', space: 'ok' });
});

test('options are checked: the strategy is required, names and numbers too', () => {
  const strategy = new SpaceStrategy({ spaceURL: space.url, clientID: 'a', clientSecret: 'b', callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
  expect(() => spaceHealth({} as never)).toThrow('spaceHealth requires a "strategy" option: the SpaceStrategy instance');
  expect(() => spaceHealth({ strategy, cacheTtl: 1 } as never)).toThrow(/spaceHealth has no option "cacheTtl" \(did you mean "cacheTTL"\?\)/);
  expect(() => spaceHealth({ strategy, cacheTTL: -1 })).toThrow('spaceHealth option "cacheTTL" must be an integer >= 0, got -1');
  expect(() => spaceHealth({ strategy, timeout: 0 })).toThrow('spaceHealth option "timeout" must be an integer >= 1, got 0');
});
