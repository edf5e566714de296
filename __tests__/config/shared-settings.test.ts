import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { SpaceStrategy, spaceErrorHandler, spaceSignOut, spaceTokenRefresh } from 'passport-jetbrains-space';
import { signIn, startTestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, uniquePrefix } from '../helpers/redis';

/** A setting is given once: parts that share it read it from the strategy, and two different values are refused at start-up. */
const CLIENT = { clientID: 'shared-client', clientSecret: 'shared-secret' };
const base = { spaceURL: 'https://acme.jetbrains.space', ...CLIENT, callbackURL: '/auth/space/callback' };
const verify = (_a: string, _r: string | undefined, p: unknown, d: (e: null, u: object) => void) => d(null, p as object);

let redis: Redis;
let other: Redis;
let space: SpaceEmulator;
let prefix: string;

beforeAll(async () => {
  redis = await connectRedis();
  other = await connectRedis();
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2, refreshTokenOnEveryExchange: true });
});
afterEach(() => deleteKeys(redis, prefix));
afterAll(async () => {
  await space.close();
  redis.disconnect();
  other.disconnect();
});

test('redis and keyPrefix given once, on the strategy, reach the renewal, the sign-out and the error handler', async () => {
  prefix = uniquePrefix('shared');
  const app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix, strategy: { signInPath: '/login/space' }, refresh: {},
    setup: (express, strategy) => express.post('/auth/signout', spaceSignOut({ strategy })),
  });
  try {
    const agent = app.agent();
    await signIn(agent);
    await new Promise((r) => setTimeout(r, 1200));
    await agent.get('/api/token').expect(200);
    // The renewal wrote its record under the strategy's prefix, with the sign-in's hash tag.
    expect((await keysUnder(redis, `${prefix}space:{`)).some((k) => k.endsWith('}:tokens'))).toBe(true);
    await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);
    const marks = await Promise.all((await keysUnder(redis, `${prefix}space:{`)).filter((k) => k.endsWith('}:tokens')).map((k) => redis.get(k)));
    // The sign-in's end mark, and its member's consent's (its last sign-in ended: revoked at Space).
    expect(marks).toEqual([JSON.stringify({ ended: true, version: Number.MAX_SAFE_INTEGER }), JSON.stringify({ ended: true, version: Number.MAX_SAFE_INTEGER })]);
    // The error handler sends an ended sign-in to the strategy's signInPath, not a default of its own.
    const second = app.agent();
    await signIn(second, '/auth/space');
    space.revokeRefreshTokens();
    const ended = await second.get('/api/me').set('Accept', 'text/html').expect(302);
    expect(ended.headers.location).toBe('/login/space?returnTo=%2Fapi%2Fme');
  } finally {
    await app.close();
  }
});

describe('conflicting settings are a TypeError at start-up', () => {
  test.each([
    ['redis', () => spaceTokenRefresh({ strategy: new SpaceStrategy({ ...base, redis }, verify), redis: other })],
    ['keyPrefix', () => spaceSignOut({ strategy: new SpaceStrategy({ ...base, keyPrefix: 'a:' }, verify), keyPrefix: 'b:' })],
    ['signInPath', () => spaceTokenRefresh({ strategy: new SpaceStrategy({ ...base, signInPath: '/login' }, verify), signInURL: '/elsewhere' })],
    ['lockTTL', () => {
      const strategy = new SpaceStrategy(base, verify);
      spaceTokenRefresh({ strategy, lockTTL: 20_000 });
      spaceSignOut({ strategy, lockTTL: 30_000 });
    }],
  ])('%s given twice with different values', (name, build) => {
    expect(build).toThrow(TypeError);
    expect(build).toThrow(`"${name}" is given to`);
  });

  test('the same value given twice is fine', () => {
    const strategy = new SpaceStrategy({ ...base, redis, keyPrefix: 'x:' }, verify);
    expect(() => spaceTokenRefresh({ strategy, redis, keyPrefix: 'x:' })).not.toThrow();
    expect(() => spaceSignOut({ strategy, redis })).not.toThrow();
  });

  test('a setting given after the library started serving is refused', () => {
    const strategy = new SpaceStrategy(base, verify);
    void strategy.runtime;
    expect(() => spaceSignOut({ strategy, keyPrefix: 'late:' })).toThrow('comes after the first request');
  });

  test('an unknown option names itself and the nearest known one', () => {
    expect(() => new SpaceStrategy({ ...base, scopes: 'x' } as never, verify)).toThrow('SpaceStrategy has no option "scopes" (did you mean "scope"?)');
    expect(() => spaceSignOut({ strategy: new SpaceStrategy(base, verify), redirectTO: '/' } as never)).toThrow('spaceSignOut has no option "redirectTO"');
  });

  test('the error handler takes its sign-in path from the strategy serving the request', () => {
    expect(() => spaceErrorHandler({ signInURL: 'https://evil.example' })).toThrow(TypeError);
  });
});
