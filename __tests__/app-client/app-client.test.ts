/**
 * spaceAppClient against the emulator over HTTP and a real Redis: the application's own
 * Client Credentials token, cached, single-flight in one process and across processes.
 */
import type Redis from 'ioredis';
import { SpaceStrategy, spaceApi, spaceAppClient, isSpaceError } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const APP = { clientID: 'app-client-test', clientSecret: 'app-client-secret', redirectURIs: ['*'], name: 'Test Bot' };
const CC = { grant_type: 'client_credentials' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [APP] });
  redis = await connectRedis();
  prefix = uniquePrefix('app-client');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});
beforeEach(() => {
  space.clearFaults();
  space.resetRequests();
});

const credentials = () => ({ spaceURL: space.url, clientID: APP.clientID, clientSecret: APP.clientSecret });

test('token() fetches a client-credentials token with HTTP Basic and scope **, and returns it with its expiry', async () => {
  const app = spaceAppClient(credentials());
  const before = Date.now();
  const token = await app.token();
  expect(token).toEqual({ accessToken: expect.any(String), expiresAt: expect.any(Number), tokenType: 'Bearer', scope: '**' });
  expect(token.expiresAt).toBeGreaterThanOrEqual(before + 590_000);
  const sent = space.requests.find((r) => r.path === '/oauth/token')!;
  expect(sent.body).toEqual({ grant_type: 'client_credentials', scope: '**' });
  expect(sent.headers.authorization).toMatch(/^Basic /);
  expect(await app.get('applications/me')).toEqual({ id: expect.any(String), clientId: APP.clientID, name: 'Test Bot' });
  expect(space.count('/oauth/token', CC)).toBe(1);
});

test('50 concurrent token() calls make one token request, and later calls reuse the cached token', async () => {
  const strategy = new SpaceStrategy({ ...credentials(), callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
  const app = spaceAppClient({ strategy });
  space.inject({ path: '/oauth/token', delayMs: 200 });
  const tokens = await Promise.all(Array.from({ length: 50 }, () => app.token()));
  expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);
  await app.token();
  expect(space.count('/oauth/token', CC)).toBe(1);
});

test('the token is renewed when it nears expiry (skew capped at half a short lifetime)', async () => {
  const short = await startSpaceEmulator({ port: 0, clients: [APP], accessTokenTTL: 2 });
  try {
    const app = spaceAppClient({ ...credentials(), spaceURL: short.url });
    const first = await app.token();
    expect((await app.token()).accessToken).toBe(first.accessToken);
    await new Promise((r) => setTimeout(r, 1300));
    const second = await app.token();
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(short.count('/oauth/token', CC)).toBe(2);
  } finally {
    await short.close();
  }
});

test('a call that Space answers "Access token has expired" is retried once with a new token', async () => {
  const app = spaceAppClient(credentials());
  const first = await app.token();
  space.expireAccessTokens();
  expect(await app.get('applications/me')).toMatchObject({ clientId: APP.clientID });
  expect((await app.token()).accessToken).not.toBe(first.accessToken);
  expect(space.count('/oauth/token', CC)).toBe(2);
  expect(space.count('/api/http/applications/me')).toBe(2);
});

test('errors never contain the token or the client secret', async () => {
  const app = spaceAppClient(credentials());
  const token = await app.token();
  space.inject({ path: '/api/http/applications/me', status: 400, body: { error: 'validation-error', error_description: `bad ${token.accessToken}` } });
  const err = await app.get('applications/me').catch((e: unknown) => e);
  expect(isSpaceError(err)).toBe(true);
  expect(String((err as Error).message)).not.toContain(token.accessToken);
  expect(JSON.stringify(err)).not.toContain(token.accessToken);

  const wrong = spaceAppClient({ ...credentials(), clientSecret: 'wrong-secret-value' });
  space.inject({ path: '/oauth/token', status: 401, body: { error: 'invalid_client', error_description: 'secret wrong-secret-value rejected' } });
  const refused = (await wrong.token().catch((e: unknown) => e)) as Error;
  expect(refused).toBeInstanceOf(Error);
  expect(refused.message).toContain('invalid_client');
  expect(refused.message).not.toContain('wrong-secret-value');
});

test('bad options are TypeErrors naming the option', () => {
  expect(() => spaceAppClient({ spaceURL: space.url, clientID: APP.clientID } as never)).toThrow(/"clientSecret"/);
  expect(() => spaceAppClient({ ...credentials(), scope: '' })).toThrow(/"scope"/);
  expect(() => spaceAppClient({ ...credentials(), timeout: 5000, lockTTL: 1000 })).toThrow(/"lockTTL"/);
});

describe('with a shared Redis', () => {
  test('two clients in one process share one token request; keys are hash-tagged and hold no token in their names', async () => {
    const keyPrefix = `${prefix}one:`;
    space.inject({ path: '/oauth/token', delayMs: 200 });
    const a = spaceAppClient({ ...credentials(), redis, keyPrefix });
    const b = spaceAppClient({ ...credentials(), redis, keyPrefix });
    const [ta, tb] = await Promise.all([a.token(), b.token()]);
    expect(ta.accessToken).toBe(tb.accessToken);
    expect(space.count('/oauth/token', CC)).toBe(1);
    const keys = await keysUnder(redis, keyPrefix);
    expect(keys).toEqual([expect.stringMatching(/^.*\{app:[0-9a-f]{16}\}:token$/)]);
    expect(keys.join()).not.toContain(ta.accessToken);
    const ttl = await redis.pttl(keys[0]!);
    expect(ttl).toBeGreaterThan(500_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  test('a renewal after "Access token has expired" replaces the refused token in Redis too', async () => {
    const keyPrefix = `${prefix}retry:`;
    const a = spaceAppClient({ ...credentials(), redis, keyPrefix });
    const b = spaceAppClient({ ...credentials(), redis, keyPrefix });
    const first = await a.token();
    expect((await b.token()).accessToken).toBe(first.accessToken);
    space.expireAccessTokens();
    await a.get('applications/me');
    await b.get('applications/me');
    // a renewed; b, refused the same token, picked up a's new one from Redis.
    expect(space.count('/oauth/token', CC)).toBe(2);
  });

  test('with encryption keys, a plain token in place of the sealed one is refused: a new one is fetched', async () => {
    const keyPrefix = `${prefix}sealed:`;
    const strategy = new SpaceStrategy({ ...credentials(), callbackURL: '/cb', redis, keyPrefix, encryptionKeys: ['c'.repeat(64)] }, (_a, _r, p, done) => done(null, p));
    const first = await spaceAppClient({ strategy }).token();
    const [key] = await keysUnder(redis, keyPrefix);
    expect(await redis.get(key!)).toMatch(/^s1\./);
    await redis.set(key!, JSON.stringify({ accessToken: 'planted-app-token', expiresAt: Date.now() + 3_600_000, issuedAt: Date.now(), tokenType: 'Bearer', scope: '**' }), 'PX', 600_000);
    // Another client (nothing cached) reads the shared store.
    const second = await spaceAppClient({ strategy }).token();
    expect(second.accessToken).not.toBe('planted-app-token');
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(space.count('/oauth/token', CC)).toBe(2);
  });

  test('a token endpoint refusing the client (invalid_client): ten calls over two processes, one token request', async () => {
    const keyPrefix = `${prefix}paused:`;
    // Two app processes: two strategies on the same Redis and prefix, each with its own client.
    const strategy = () => new SpaceStrategy({ ...credentials(), callbackURL: '/cb', redis, keyPrefix, retryDelay: 30_000 }, (_a, _r, p, done) => done(null, p));
    const clients = [spaceAppClient({ strategy: strategy() }), spaceAppClient({ strategy: strategy() })];
    space.inject({ path: '/oauth/token', status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } });
    const errors: unknown[] = [];
    for (let i = 0; i < 10; i++) errors.push(await clients[i % 2]!.get('applications/me').catch((e: unknown) => e));
    expect(space.count('/oauth/token', CC)).toBe(1);
    expect(space.count('/api/http/applications/me')).toBe(0);
    errors.forEach((err, i) => {
      // The process whose request failed says why; the other knows only of the pause.
      expect(err).toMatchObject(i % 2 === 0
        ? { code: 'SPACE_REJECTED', error: 'invalid_client' }
        : { code: 'SPACE_UNAVAILABLE', message: expect.stringContaining('failed in another process') });
      if (i > 0) expect((err as { retryAfter: number }).retryAfter).toBeGreaterThan(20);
    });
  });

  test('with Redis unreachable the client still gets its own token', async () => {
    const dead = await connectRedis(REDIS_URL, { lazyConnect: true });
    dead.disconnect();
    const app = spaceAppClient({ ...credentials(), redis: dead, keyPrefix: `${prefix}dead:`, redisTimeout: 300 });
    expect((await app.token()).tokenType).toBe('Bearer');
  });

  test('three processes asking at once make one token request', async () => {
    const keyPrefix = `${prefix}procs:`;
    const workers: Worker[] = [];
    const start = async (): Promise<string> => {
      const worker = await startWorker('worker-app-client.js', { ...credentials(), redisURL: REDIS_URL, prefix: keyPrefix });
      workers.push(worker);
      return worker.url;
    };
    try {
      const urls = await Promise.all([start(), start(), start()]);
      space.resetRequests();
      space.inject({ path: '/oauth/token', delayMs: 300 });
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) =>
        fetch(urls[i % 3]!).then(async (r) => (await r.json()) as { pid: number; token: string })));
      expect(new Set(answers.map((a) => a.pid)).size).toBe(3);
      expect(new Set(answers.map((a) => a.token)).size).toBe(1);
      expect(space.count('/oauth/token', CC)).toBe(1);
      expect(await keysUnder(redis, keyPrefix)).toEqual([expect.stringMatching(/:token$/)]);
    } finally {
      await stopWorkers(workers);
    }
  });
});

describe('API paths given to spaceApi and spaceAppClient', () => {
  const ESCAPES = [
    ['profiles/../../../oauth/x', /"\." or "\.\." segment/],
    ['team-directory/%2e%2e/%2E%2E/oauth/x', /"\." or "\.\." segment/],
    ['team-directory\\..\\..\\oauth\\x', /a "\\" or an encoded "\/" inside a segment/],
    ['applications/clientId:x%2F..%2F..%2Foauth', /a "\\" or an encoded "\/" inside a segment/],
    ['team-directory/profiles?$fields=id', /"\?" or "#"/],
    ['team-directory/profiles#x', /"\?" or "#"/],
  ] as const;
  /** The paths Space saw since the last reset. */
  const seen = () => space.requests.map((r) => r.path);

  test.each(ESCAPES)('spaceAppClient refuses %j before anything is sent', async (path, why) => {
    const app = spaceAppClient(credentials());
    await app.token();
    space.resetRequests();
    await expect(app.get(path)).rejects.toThrow(TypeError);
    await expect(app.get(path)).rejects.toThrow(why);
    expect(seen()).toEqual([]);
  });

  test('spaceAppClient encodes what a path segment may not hold as it is, and keeps escapes already made', async () => {
    const app = spaceAppClient(credentials());
    await app.token();
    space.resetRequests();
    await expect(app.get(`applications/clientId:${encodeURIComponent('a b')}|c^d[e]%/public-keys`)).rejects.toMatchObject({ status: 404 });
    expect(seen()).toEqual(['/api/http/applications/clientId:a%20b%7Cc%5Ed%5Be%5D%25/public-keys']);
  });

  test('spaceApi(req) refuses a path that leaves /api/http/, and sends nothing', async () => {
    space.setAutoApprove('john.doe');
    const app = await startTestApp({ spaceURL: space.url, clientID: APP.clientID, clientSecret: APP.clientSecret, redis, prefix: `${prefix}api:`, refresh: {} });
    app.app.get('/call', async (req, res) => {
      try {
        res.json(await spaceApi(req).get(String(req.query.path)));
      } catch (err) {
        res.status(500).json({ name: (err as Error).name, message: (err as Error).message });
      }
    });
    try {
      const agent = app.agent();
      await signIn(agent);
      for (const [path, why] of ESCAPES) {
        space.resetRequests();
        const res = await agent.get('/call').query({ path });
        expect({ path, status: res.status, name: res.body.name }).toEqual({ path, status: 500, name: 'TypeError' });
        expect(res.body.message).toMatch(why);
        expect(seen()).toEqual([]);
      }
      // A path that stays where it should still works.
      expect((await agent.get('/call').query({ path: 'team-directory/profiles/me' })).body.username).toBe('john.doe');
    } finally {
      await app.close();
    }
  });
});
