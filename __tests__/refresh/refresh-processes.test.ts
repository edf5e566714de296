import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { connectRedis, deleteKeys, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { cookiesOf } from '../helpers/cookies';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

// Three app processes (the built package, loaded by name) share one Redis and one Space.
const CLIENT = { clientID: 'multi-client', clientSecret: 'multi-secret' };
const TTL = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
const workers: Worker[] = [];

const startApp = () => startWorker('worker-app.js', { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix, secret: 'multi-process-secret' });

beforeAll(async () => {
  space = await startSpaceEmulator({
    port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'jane.roe', accessTokenTTL: TTL, rotateRefreshTokens: true,
  });
  redis = await connectRedis();
  prefix = uniquePrefix('multi');
  workers.push(...(await Promise.all([startApp(), startApp(), startApp()])));
});

afterAll(async () => {
  await stopWorkers(workers);
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

async function signInThrough(url: string): Promise<string> {
  const start = await fetch(`${url}/auth/space`, { redirect: 'manual' });
  const startCookie = cookiesOf(start.headers);
  const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  const callback = await fetch(`${url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: startCookie } });
  expect(callback.status).toBe(302);
  return cookiesOf(callback.headers);
}

test('three app processes hammering one session with an expired token make exactly one token request', async () => {
  const cookie = await signInThrough(workers[0]!.url);
  await sleep(TTL * 500 + 200);
  space.resetRequests();
  space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 300 });

  const answers = await Promise.all(Array.from({ length: 60 }, (_, i) =>
    fetch(`${workers[i % 3]!.url}/api/token`, { headers: { cookie } })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as { pid: number; signedIn: boolean; token: string } }))));

  expect(answers.map((a) => a.status)).toEqual(Array(60).fill(200));
  expect(answers.every((a) => a.body.signedIn)).toBe(true);
  expect(new Set(answers.map((a) => a.body.pid)).size).toBe(3);
  expect(new Set(answers.map((a) => a.body.token)).size).toBe(1);
  expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(1);
  expect(space.refreshTokenReuseCount).toBe(0);
  // The lock is released.
  expect(await redis.keys(`${prefix}space:lock:*`)).toEqual([]);

  // And the next expiry, met by another process, renews with the rotated refresh token.
  await sleep(TTL * 500 + 200);
  const again = await fetch(`${workers[2]!.url}/api/token`, { headers: { cookie } });
  expect(((await again.json()) as { signedIn: boolean }).signedIn).toBe(true);
  expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(2);
  expect(space.refreshTokenReuseCount).toBe(0);
});
