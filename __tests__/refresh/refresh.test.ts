import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { endSpaceSessionsOf, SpaceStrategy, spaceAppClient, spaceTokenRefresh, type SpaceTokenEvent } from 'passport-jetbrains-space';
import { fingerprint, signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, sessionTokens as tokensOf, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'refresh-client', clientSecret: 'refresh-secret-canary-0c2e' };
// Two-second tokens: with the skew capped at half the lifetime they are renewed after one second.
const TTL = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const untilStale = () => sleep(TTL * 500 + 150);
const untilExpired = () => sleep(TTL * 1000 + 150);

let redis: Redis;
let space: SpaceEmulator;
let app: TestApp;
let prefix: string;
let events: SpaceTokenEvent[];

async function setUp(emulator: Parameters<typeof startSpaceEmulator>[0] = {}, timeout = 1000, withoutRedis = false): Promise<void> {
  space = await startSpaceEmulator({
    port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true, ...emulator,
  });
  prefix = uniquePrefix('refresh');
  events = [];
  app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix, strategy: { timeout },
    refresh: { retryDelay: 1000, onEvent: (e) => events.push(e), ...(withoutRedis ? { redis: 'none' as const } : {}) },
  });
}

beforeAll(async () => {
  redis = await connectRedis();
});

afterEach(async () => {
  await app?.close();
  await space?.close();
  await deleteKeys(redis, prefix);
});

afterAll(() => redis.disconnect());

const refreshRequests = () => space.count('/oauth/token', { grant_type: 'refresh_token' });

async function signedInAgent() {
  const agent = app.agent();
  const { callback } = await signIn(agent);
  const key = app.sessionKeyFromCookie(callback.headers['set-cookie'] as unknown as string[])!;
  const cookie = (callback.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!.split(';')[0]!;
  return { agent, key, cookie };
}

const sessionTokens = (key: string) => tokensOf(redis, key);

describe('spaceTokenRefresh', () => {
  test('passes signed-out requests through untouched', async () => {
    await setUp();
    const res = await app.agent().get('/api/token').expect(200);
    expect(res.body).toEqual({ signedIn: false, token: null, expiresAt: null });
  });

  test('gives a fresh token without any Redis command or token request', async () => {
    await setUp();
    const { agent, key } = await signedInAgent();
    const stored = await sessionTokens(key);
    const before = space.count('/oauth/token');
    const keysBefore = await keysUnder(redis, `${prefix}space:`);
    const res = await agent.get('/api/token').expect(200);
    expect(res.body.token).toBe(fingerprint(stored!.accessToken));
    expect(space.count('/oauth/token')).toBe(before);
    // Sign-in wrote its record, its owner, the user's sessions index, the index of members, and the
    // member's consent (its refresh token) with its users; the request wrote nothing.
    expect(keysBefore.map((k) => k.replace(/\{[^}]+\}/, '{…}')).sort()).toEqual([`${prefix}space:{…}:all`, `${prefix}space:{…}:owner`, `${prefix}space:{…}:sessions`, `${prefix}space:{…}:tokens`, `${prefix}space:{…}:tokens`, `${prefix}space:{…}:users`]);
    const valuesBefore = await Promise.all(keysBefore.map((k) => redis.dump(k)));
    expect(await keysUnder(redis, `${prefix}space:`)).toEqual(keysBefore);
    expect(await Promise.all(keysBefore.map((k) => redis.dump(k)))).toEqual(valuesBefore);
  });

  test('renews an expired token before the handler runs, with Basic auth, the refresh token and the scope', async () => {
    await setUp();
    const { agent, key } = await signedInAgent();
    const first = await sessionTokens(key);
    await untilStale();
    const res = await agent.get('/api/token').expect(200);
    expect(res.body.token).not.toBe(fingerprint(first!.accessToken));
    expect(res.body.expiresAt).toBeGreaterThan(Date.now());
    expect(refreshRequests()).toBe(1);
    const call = space.requests.find((r) => r.body?.grant_type === 'refresh_token')!;
    expect(call.headers.authorization).toBe(`Basic ${Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64')}`);
    expect(call.body).toEqual({ grant_type: 'refresh_token', refresh_token: first!.refreshToken, scope: first!.scope });

    // Non-rotating Space: the answer has no refresh token, so the old one is kept.
    const after = await sessionTokens(key);
    expect(after).toMatchObject({ refreshToken: first!.refreshToken, version: 2, grant: first!.grant });
    expect(fingerprint(after!.accessToken)).toBe(res.body.token);
    // The authoritative copy has a TTL.
    const [tokensKey] = (await keysUnder(redis, `${prefix}space:{`)).filter((k) => k.endsWith('}:tokens'));
    expect(await redis.pttl(tokensKey!)).toBeGreaterThan(0);
    expect(events.map((e) => e.event).filter((e) => e.startsWith('token.'))).toEqual(['token.refreshed']);
  });

  test('50 concurrent requests with an expired token cause exactly one token request', async () => {
    await setUp({}, 3000);
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 300 });
    const { cookie } = await signedInAgent();
    await untilStale();
    const answers = await Promise.all(Array.from({ length: 50 }, () =>
      fetch(`${app.url}/api/token`, { headers: { cookie } }).then(async (r) => ({ status: r.status, body: (await r.json()) as { token: string } }))));
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(new Set(answers.map((a) => a.body.token)).size).toBe(1);
    expect(refreshRequests()).toBe(1);
  });

  test('without Redis, renewals are still single-flight and never go backwards within the process', async () => {
    await setUp({ rotateRefreshTokens: true }, 3000, true);
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 200 });
    const { agent, cookie } = await signedInAgent();
    await untilStale();
    const answers = await Promise.all(Array.from({ length: 30 }, () =>
      fetch(`${app.url}/api/token`, { headers: { cookie } }).then(async (r) => ((await r.json()) as { token: string }).token)));
    expect(new Set(answers).size).toBe(1);
    expect(refreshRequests()).toBe(1);
    await untilStale();
    await agent.get('/api/token').expect(200);
    expect(refreshRequests()).toBe(2);
    expect(space.refreshTokenReuseCount).toBe(0);
    expect(await keysUnder(redis, `${prefix}space:`)).toEqual([]);
  });

  test('a slow request that saves an old session copy cannot bring back a rotated refresh token', async () => {
    await setUp({ rotateRefreshTokens: true });
    const { agent, key, cookie } = await signedInAgent();
    const release = app.hold();
    // The slow request loads the session (token 1, refresh token 1) and changes it.
    const slow = fetch(`${app.url}/api/slow`, { method: 'POST', headers: { cookie } });
    await sleep(100);
    await untilStale();
    // Meanwhile another request renews: refresh token 1 is now dead at Space.
    await agent.get('/api/token').expect(200);
    expect(refreshRequests()).toBe(1);
    const renewed = await sessionTokens(key);
    release();
    expect((await slow).status).toBe(200);
    // The slow request wrote its stale copy back over the session (it names version 1; the
    // sign-in's record, where the tokens are, stays at version 2).
    expect(JSON.parse((await redis.get(key))!).space.tokens.version).toBe(1);
    expect((await sessionTokens(key))!.version).toBe(2);

    await untilStale();
    const res = await agent.get('/api/token').expect(200);
    expect(res.body.signedIn).toBe(true);
    expect(space.refreshTokenReuseCount).toBe(0);
    const last = space.requests.filter((r) => r.body?.grant_type === 'refresh_token').at(-1)!;
    expect(last.body!.refresh_token).toBe(renewed!.refreshToken);
    const final = JSON.parse((await redis.get(key))!);
    expect(final.note).toBe('written by a slow request');
    // Renewals change the record, never the session.
    expect(final.space.tokens.version).toBe(1);
    expect((await sessionTokens(key))!.version).toBe(3);
  });

  test('three rotations each send the newest refresh token and never an old one', async () => {
    await setUp({ rotateRefreshTokens: true });
    const { agent } = await signedInAgent();
    for (let i = 0; i < 3; i++) {
      await untilStale();
      await agent.get('/api/token').expect(200);
    }
    expect(refreshRequests()).toBe(3);
    expect(space.refreshTokenReuseCount).toBe(0);
  });

  test('invalid_grant signs the user out: a page is sent to sign in again, an API call gets 401 JSON', async () => {
    await setUp();
    const browser = await signedInAgent();
    const api = await signedInAgent();
    space.revokeRefreshTokens('john.doe');
    await untilExpired();

    const page = await browser.agent.get('/page?tab=2').set('Accept', 'text/html').expect(302);
    expect(page.headers.location).toBe('/auth/space?returnTo=%2Fpage%3Ftab%3D2');
    const json = await api.agent.get('/api/token').set('Accept', 'application/json').expect(401);
    expect(json.body).toEqual({ error: 'unauthenticated', error_description: expect.any(String) });
    expect(json.headers['www-authenticate']).toContain('Bearer');

    for (const key of [browser.key, api.key]) {
      const raw = (await redis.get(key)) ?? '';
      expect(raw).not.toContain('accessToken');
    }
    await browser.agent.get('/api/token').expect(200, { signedIn: false, token: null, expiresAt: null });
    // Both sign-ins are john.doe's: they renew through his one consent, refused once.
    expect(events.filter((e) => e.event === 'token.refresh_rejected')).toHaveLength(1);
  });

  test('a burst of 20 requests meeting invalid_grant makes one refresh attempt', async () => {
    await setUp();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 200, status: 400, body: { error: 'invalid_grant', error_description: 'Refresh token is revoked' } });
    const { cookie } = await signedInAgent();
    await untilExpired();
    const statuses = await Promise.all(Array.from({ length: 20 }, () =>
      fetch(`${app.url}/api/token`, { headers: { cookie, accept: 'application/json' } }).then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(401));
    expect(refreshRequests()).toBe(1);
  });

  test.each([
    ['503', { status: 503, body: { error: 'temporarily_unavailable' } }],
    ['500 with HTML', { status: 500, headers: { 'content-type': 'text/html' }, body: '<h1>oops</h1>' }],
    ['429', { status: 429, headers: { 'retry-after': '1' }, body: { error: 'rate-limited' } }],
    ['a timeout', { hang: true }],
    ['a connection reset', { reset: true }],
  ])('Space failing with %s keeps the session: 503 with Retry-After, then renewal once Space is back', async (_name, fault) => {
    await setUp({}, 500);
    const { agent, key } = await signedInAgent();
    const before = await sessionTokens(key);
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', ...fault });
    await untilExpired();
    const failed = await agent.get('/api/token').set('Accept', 'application/json').expect(503);
    expect(Number(failed.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(failed.body.error).toBe('temporarily_unavailable');
    expect(await sessionTokens(key)).toEqual(before);

    space.clearFaults();
    await sleep(1100);
    const ok = await agent.get('/api/token').expect(200);
    expect(ok.body.signedIn).toBe(true);
    expect(ok.body.token).not.toBe(fingerprint(before!.accessToken));
  });

  test('a Space outage is not called once per request: after a failure Space is left alone for retryDelay', async () => {
    space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true });
    prefix = uniquePrefix('refresh');
    app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, refresh: { retryDelay: 30_000 } });
    const { agent, key } = await signedInAgent();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 503, body: { error: 'temporarily_unavailable' } });
    await untilExpired();
    // The pause is per member (their consent): this one is left alone, however often it asks...
    for (let i = 0; i < 8; i++) {
      const res = await agent.get('/api/token').set('Accept', 'application/json').expect(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(20);
      expect(await sessionTokens(key)).toBeDefined();
    }
    expect(refreshRequests()).toBe(1);
    // ...while another member's sign-in, with Space healthy again, is renewed at once.
    space.setAutoApprove('jane.roe');
    const other = await signedInAgent();
    space.clearFaults();
    await untilExpired();
    await other.agent.get('/api/token').set('Accept', 'application/json').expect(200);
    expect(refreshRequests()).toBe(2);
  });

  test.each([
    ['a 503 with Retry-After: 0', { status: 503, headers: { 'retry-after': '0' }, body: { error: 'temporarily_unavailable' } }],
    ['a 503 with a Retry-After date in the past', { status: 503, headers: { 'retry-after': new Date(Date.now() - 3_600_000).toUTCString() }, body: { error: 'temporarily_unavailable' } }],
    ['a 401 invalid_client (a rotated client secret)', { status: 401, body: { error: 'invalid_client', error_description: 'Client authentication failed' } }],
    ['an HTML page with status 200 (a proxy)', { status: 200, headers: { 'content-type': 'text/html' }, body: '<html><body>Please sign in to the proxy</body></html>' }],
  ])('a renewal failing with %s pauses the sign-in in every process: ten requests, one token request', async (_name, fault) => {
    space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true });
    prefix = uniquePrefix('refresh');
    app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, refresh: { retryDelay: 30_000 } });
    // A second app process on the same Redis: the pause one process records holds for the other.
    const other = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, refresh: { retryDelay: 30_000 } });
    try {
      const { cookie } = await signedInAgent();
      space.inject({ path: '/oauth/token', grantType: 'refresh_token', ...fault });
      await untilExpired();
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${(i % 2 ? other : app).url}/api/token`, { headers: { cookie, accept: 'application/json' } });
        expect(res.status).toBe(503);
        // Space's "retry at once" is not honoured: the pause is retryDelay.
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(20);
      }
      expect(refreshRequests()).toBe(1);
    } finally {
      await other.close();
    }
  });

  test('retryDelay below 1000 ms is a TypeError: a failed renewal always pauses its sign-in', () => {
    const make = (retryDelay: number) => new SpaceStrategy({ spaceURL: 'http://127.0.0.1:1', ...CLIENT, callbackURL: '/cb', retryDelay }, () => undefined);
    expect(() => make(0)).toThrow(TypeError);
    expect(() => make(999)).toThrow(/retryDelay/);
    expect(() => make(1000)).not.toThrow();
  });

  test('a token still valid but inside the skew is used when Space fails', async () => {
    await setUp();
    const { agent, key } = await signedInAgent();
    const before = await sessionTokens(key);
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 502, body: '' });
    await untilStale();
    const res = await agent.get('/api/token').expect(200);
    expect(res.body.token).toBe(fingerprint(before!.accessToken));
  });

  test('invalid_client (our own misconfiguration) never signs users out', async () => {
    await setUp();
    const { agent } = await signedInAgent();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 401, body: { error: 'invalid_client' } });
    await untilExpired();
    await agent.get('/api/token').set('Accept', 'application/json').expect(503);
    space.clearFaults();
    await sleep(1100); // the failure paused this sign-in for retryDelay (1 s here)
    expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(true);
    expect(events.find((e) => e.event === 'token.refresh_failed')).toMatchObject({ status: 401, error: 'invalid_client', reason: 'SPACE_REJECTED' });
  });

  test("a member's second sign-in, which Space gave no refresh token, renews through the member's consent", async () => {
    // Space issues a refresh token only on a member's first offline sign-in in the app.
    await setUp({ refreshTokenOnEveryExchange: false });
    await signedInAgent();
    const second = await signedInAgent();
    await untilExpired();
    expect((await second.agent.get('/api/token').expect(200)).body.signedIn).toBe(true);
    expect(refreshRequests()).toBe(1);
    expect(events.map((e) => e.event)).not.toContain('token.no_refresh_token');
  });

  test('a member without a live consent is sent to sign in again at expiry, without a token request', async () => {
    // A Space that issues a refresh token only once per member: after it is revoked, none again.
    await setUp({ refreshTokenOnEveryExchange: false, refreshTokens: 'once' });
    await signedInAgent();
    expect(await endSpaceSessionsOf('2asfen24Jx6u', { strategy: app.strategy })).toBe(1);
    const second = await signedInAgent();
    await untilExpired();
    const page = await second.agent.get('/page').set('Accept', 'text/html').expect(302);
    expect(page.headers.location).toBe('/auth/space?returnTo=%2Fpage');
    expect(refreshRequests()).toBe(0);
    expect(events.map((e) => e.event)).toContain('token.no_refresh_token');
  });

  test('spaceApi renews once and retries when Space says the token has expired', async () => {
    await setUp();
    const { agent } = await signedInAgent();
    space.expireAccessTokens();
    const res = await agent.get('/api/me').expect(200);
    expect(res.body.username).toBe('john.doe');
    expect(refreshRequests()).toBe(1);
    expect(space.count('/api/http/team-directory/profiles/me')).toBe(3); // sign-in, 401, retry
  });

  test('spaceApi signs the user out when Space says the grant was revoked: a page goes to sign in, an API call gets 401', async () => {
    await setUp();
    const browser = await signedInAgent();
    const api = await signedInAgent();
    space.revokeRefreshTokens();
    const page = await browser.agent.get('/api/me').set('Accept', 'text/html').expect(302);
    expect(page.headers.location).toBe('/auth/space?returnTo=%2Fapi%2Fme');
    const json = await api.agent.get('/api/me').set('Accept', 'application/json').expect(401);
    expect(json.body.error).toBe('unauthenticated');
    expect((await browser.agent.get('/api/token').expect(200)).body.signedIn).toBe(false);
    expect(refreshRequests()).toBe(0);
  });

  test('events never carry a token, a refresh token or the session id', async () => {
    await setUp({ rotateRefreshTokens: true });
    const { agent, key } = await signedInAgent();
    await untilStale();
    await agent.get('/api/token').expect(200);
    space.revokeRefreshTokens();
    await untilExpired();
    await agent.get('/api/token').set('Accept', 'application/json').expect(401);
    const text = JSON.stringify(events);
    const sid = key.split('sess:')[1]!;
    for (const r of space.requests) {
      for (const secret of [r.body?.refresh_token, r.body?.code, r.headers.authorization?.split(' ')[1]]) {
        if (secret) expect(text).not.toContain(secret);
      }
    }
    expect(text).not.toContain(sid);
  });
});

describe('a "redis" option that is not a client says what it got', () => {
  class SessionCache { private readonly entries = new Map<string, string>(); }
  class Empty {}
  test.each([
    ['a Map', () => new Map([['k', 'v']]), 'got a Map with 1 entry'],
    ['an instance of a class', () => new SessionCache(), 'got an instance of SessionCache with keys entries'],
    ['an instance without own keys', () => new Empty(), 'got an instance of Empty with no own keys'],
    ['the client class itself', () => class Redis {}, 'got the function or class "Redis" itself (an instance is expected, e.g. new Redis(...))'],
    ['a URL string (never echoed)', () => 'redis://:hunter2@redis.internal:6379', 'got a string'],
  ])('%s', (_name, value, got) => {
    const expected = 'must be an ioredis client (new Redis(), new Cluster()) or a node-redis client (createClient(), createCluster()), ';
    const make = () => new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/cb', redis: value() }, (_a, _r, p, d) => d(null, p));
    expect(make).toThrow(TypeError);
    expect(make).toThrow(`SpaceStrategy option "redis" ${expected}${got}`);
    expect(make).not.toThrow(/hunter2/);
    const appClient = () => spaceAppClient({ spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', redis: value() });
    expect(appClient).toThrow(`spaceAppClient option "redis" ${expected}${got}`);
    expect(appClient).not.toThrow(/hunter2/);
  });
});

describe('spaceTokenRefresh options', () => {
  const strategy = () => new SpaceStrategy({ spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/cb' }, (_a, _r, p, d) => d(null, p));
  test.each([
    [() => ({}), 'requires a "strategy" option'],
    [() => ({ strategy: {} }), 'requires a "strategy" option'],
    [() => ({ strategy: strategy(), redis: {} }), 'option "redis" must be an ioredis client (new Redis(), new Cluster()) or a node-redis client (createClient(), createCluster()), got an empty object'],
    [() => ({ strategy: strategy(), redis: { get() {}, eval() {} } }), 'got an object with keys get, eval'],
    [() => ({ strategy: strategy(), skew: -1 }), 'option "skew" must be an integer >= 0'],
    [() => ({ strategy: strategy(), lockTTL: 1500.5 }), 'option "lockTTL" must be an integer >= 100'],
    [() => ({ strategy: strategy(), tokenTTL: 86400.5 }), 'option "tokenTTL" must be an integer >= 1000'],
    [() => ({ strategy: strategy(), lockTTL: 5000 }), 'option "lockTTL" (5000 ms) must be at least the strategy\'s "timeout" + 3 × "redisTimeout" + 1000 ms (10000 + 3 × 2000 (default) + 1000 = 17000 ms)'],
    [() => ({ strategy: strategy(), signInURL: 'https://evil.example' }), 'option "signInURL" must be a local path'],
    [() => ({ strategy: strategy(), keyprefix: 'x:' }), 'spaceTokenRefresh has no option "keyprefix" (did you mean "keyPrefix"?)'],
  ])('throws a TypeError naming the problem (%#)', (options, message) => {
    expect(() => spaceTokenRefresh(options() as never)).toThrow(TypeError);
    expect(() => spaceTokenRefresh(options() as never)).toThrow(message);
  });
});
