/**
 * The session names its sign-in; the tokens live in one place, the sign-in's record in Redis.
 * Each test app here has its own strategy, so a second app is what another app process sees:
 * nothing of the sign-in in its memory.
 */
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { fingerprint, signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, sessionTokens, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'ref-client', clientSecret: 'ref-secret' };
let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
const apps: TestApp[] = [];

beforeAll(async () => {
  redis = await connectRedis();
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true });
});

beforeEach(() => {
  prefix = uniquePrefix('ref');
});

afterEach(async () => {
  await Promise.all(apps.splice(0).map((a) => a.close()));
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  await space.close();
  redis.disconnect();
});

async function start(): Promise<TestApp> {
  const app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, refresh: {} });
  apps.push(app);
  return app;
}

async function signedIn(app: TestApp) {
  const agent = app.agent();
  const { callback } = await signIn(agent);
  const setCookie = callback.headers['set-cookie'] as unknown as string[];
  const cookie = setCookie.find((c) => c.startsWith('sid='))!.split(';')[0]!;
  return { agent, cookie, key: app.sessionKeyFromCookie(setCookie)! };
}

const tokenAt = async (app: TestApp, cookie: string) => {
  const res = await fetch(`${app.url}/api/token`, { headers: { cookie, accept: 'application/json' } });
  return { status: res.status, body: (await res.json()) as { signedIn?: boolean; token?: string | null } };
};

test('another app process, which never saw the sign-in, reads its tokens from the record', async () => {
  const a = await start();
  const b = await start();
  const { cookie, key } = await signedIn(a);
  const stored = (await sessionTokens(redis, key))!;
  const there = await tokenAt(b, cookie);
  expect(there).toEqual({ status: 200, body: expect.objectContaining({ signedIn: true, token: fingerprint(stored.accessToken) }) });
  // The session stays what it was: no write for a read.
  expect(JSON.parse((await redis.get(key))!).space.tokens.version).toBe(1);
});

test('the library adds under 150 bytes to the session, whatever the size of the tokens', async () => {
  const a = await start();
  const { key } = await signedIn(a);
  const value = JSON.parse((await redis.get(key))!);
  expect(JSON.stringify(value.space).length).toBeLessThan(150);
  expect((await sessionTokens(redis, key))!.accessToken.length).toBeGreaterThan(500);
});

test('a session written by 0.1, with the tokens themselves in it, is still read', async () => {
  const a = await start();
  const { cookie, key } = await signedIn(a);
  const tokens = (await sessionTokens(redis, key))!;
  const value = JSON.parse((await redis.get(key))!);
  value.space.tokens = tokens;
  await redis.set(key, JSON.stringify(value), 'EX', 600);
  await redis.del(`${prefix}space:{${tokens.grant}}:tokens`);
  const fresh = await start(); // nothing of the sign-in in its memory
  expect(await tokenAt(fresh, cookie)).toEqual({ status: 200, body: expect.objectContaining({ signedIn: true, token: fingerprint(tokens.accessToken) }) });
});

test('a session whose record is gone is signed out cleanly: 401 JSON, the session no longer names the sign-in', async () => {
  const a = await start();
  const { cookie, key } = await signedIn(a);
  const tokens = (await sessionTokens(redis, key))!;
  await redis.del(`${prefix}space:{${tokens.grant}}:tokens`);
  const fresh = await start();
  const res = await fetch(`${fresh.url}/api/token`, { headers: { cookie, accept: 'application/json' } });
  expect(res.status).toBe(401);
  expect(await res.json()).toEqual(expect.objectContaining({ error: expect.any(String) }));
  const after = await redis.get(key);
  expect(after === null || JSON.parse(after).space === undefined).toBe(true);
});

test('a session in use keeps its record alive as long as itself', async () => {
  const a = await start();
  const { cookie, key } = await signedIn(a);
  const { grant } = (await sessionTokens(redis, key))!;
  const recordKey = `${prefix}space:{${grant}}:tokens`;
  await redis.pexpire(recordKey, 5000);
  // Another process's first request of this session extends it (at most once a minute per process).
  const b = await start();
  expect((await tokenAt(b, cookie)).status).toBe(200);
  await new Promise((r) => setTimeout(r, 200));
  expect(await redis.pttl(recordKey)).toBeGreaterThan(60_000);
});
