/**
 * The example app in-process (createApp) against the Space emulator and the real Redis:
 * pages, sign-in, security headers, the avatar proxy, renewal, CSRF-protected sign-out,
 * no token in any response; and the configuration logic (memory fallback) on its own.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Redis from 'ioredis';
import request from 'supertest';
import { startSpaceEmulator, type SpaceEmulator, type SpaceEmulatorUser } from 'passport-jetbrains-space/emulator';
import { createApp, SESSION_COOKIE, type AppConfig } from '../../example-app/src/app';
import { chooseSessionStore, ConfigError, DEFAULT_REDIS_URL, loadSettings, redactURL } from '../../example-app/src/config';
import { openSessionBackend, tryConnect } from '../../example-app/src/redis';
import { connectRedis, deleteKeys, keysUnder, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'orbit-test', clientSecret: 'orbit-test-secret-canary-51f0' };
const REVOKE_SELF = '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self';
const JOHN_AVATAR = '40uDKb4RHdsst';
const JOHN_SMALL_AVATAR = 'vYK0b1Qisdf2C';
const SAM_AVATAR = 'samAvatar77xY';

const USERS: SpaceEmulatorUser[] = [
  {
    id: '2asfen24Jx6u', username: 'john.doe', firstName: 'John', lastName: 'Doe',
    emails: [{ email: 'john.doe@example.com', verified: true }],
    avatar: JOHN_AVATAR, smallAvatar: JOHN_SMALL_AVATAR, profilePicture: null,
  },
  { id: '3bTgo35Ky7v', username: 'jane.roe', firstName: 'Jane', lastName: 'Roe', emails: [{ email: 'jane.roe@example.com', verified: false }], avatar: null },
  { id: '4cUhp46Lz8w', username: 'sam.smith', firstName: 'Sam', lastName: 'Smith', avatar: SAM_AVATAR },
];

type Agent = ReturnType<typeof request.agent>;
type Answer = request.Response;

/** Every response the app sent in this file, to scan for tokens at the end. */
const responses: Array<{ what: string; headers: unknown; body: string }> = [];
/** Every access and refresh token that was ever in the app's Redis keys. */
const tokens = new Set<string>();

let space: SpaceEmulator;
let redis: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({
    port: 0,
    clients: [{ ...CLIENT, redirectURIs: ['*'] }],
    users: USERS,
    autoApprove: 'john.doe',
    // John signs in several times in this file; each sign-in should get a refresh token.
    refreshTokenOnEveryExchange: true,
    organization: { name: 'Acme Corp', slogan: 'Rockets & anvils' },
  });
  redis = await connectRedis();
});

afterAll(async () => {
  await space.close();
  for (const prefix of prefixes) await deleteKeys(redis, prefix);
  redis.disconnect();
});

interface Running {
  url: string;
  prefix: string;
  agent(): Agent;
  close(): Promise<void>;
}

async function start(overrides: Partial<AppConfig> = {}): Promise<Running> {
  const prefix = uniquePrefix('example-app');
  prefixes.push(prefix);
  const app = createApp({
    space: { url: space.url, ...CLIENT, emulated: true },
    sessionSecret: 'example-app-test-secret-0123456789abcdef',
    redis,
    keyPrefix: prefix,
    ...overrides,
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    prefix,
    agent: () => request.agent(url),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Collects the tokens the app holds in Redis right now (sessions and the renewal copies). */
async function harvestTokens(prefix: string): Promise<void> {
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, v] of Object.entries(value)) {
        if ((key === 'accessToken' || key === 'refreshToken') && typeof v === 'string') tokens.add(v);
        else walk(v);
      }
    }
  };
  for (const key of await keysUnder(redis, prefix)) {
    const raw = await redis.get(key).catch(() => null);
    if (!raw) continue;
    try {
      walk(JSON.parse(raw));
    } catch {
      // not JSON (a lock)
    }
  }
}

/** Sends a request through the agent, records the response and harvests tokens. */
async function send(run: Running, what: string, req: request.Test): Promise<Answer> {
  const res = await req;
  const body = typeof res.text === 'string' ? res.text : Buffer.isBuffer(res.body) ? res.body.toString('utf8') : JSON.stringify(res.body ?? '');
  responses.push({ what, headers: res.headers, body });
  await harvestTokens(run.prefix);
  return res;
}

const get = (run: Running, agent: Agent, path: string, headers: Record<string, string> = {}) =>
  send(run, `GET ${path}`, agent.get(path).set(headers));

/**
 * Signs in like a browser: the app's sign-in start, Space's /oauth/auth (auto-approved by
 * the emulator), the callback; returns the page it lands on.
 */
async function signIn(run: Running, agent: Agent, startPath = '/auth/space', at: SpaceEmulator = space): Promise<{ landing: Answer; callback: Answer }> {
  const started = await get(run, agent, startPath);
  expect(started.status).toBe(302);
  const toSpace = new URL(started.headers.location as string);
  expect(toSpace.origin + toSpace.pathname).toBe(`${at.url}/oauth/auth`);
  const approved = await fetch(toSpace, { redirect: 'manual' });
  expect(approved.status).toBe(302);
  const back = new URL(approved.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(`${run.url}/auth/space/callback`);
  const callback = await get(run, agent, back.pathname + back.search);
  expect(callback.status).toBe(302);
  const landing = await get(run, agent, new URL(callback.headers.location as string, run.url).pathname);
  return { landing, callback };
}

function csrfOf(page: Answer): string {
  const match = /name="_csrf" value="([^"]+)"/.exec(page.text);
  if (!match) throw new Error('no CSRF field on the page');
  return match[1]!;
}

function expectSecurityHeaders(res: Answer): void {
  const csp = String(res.headers['content-security-policy']);
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
  expect(directives.get('script-src')).toEqual(["'self'"]);
  expect(directives.get('default-src')).toEqual(["'none'"]);
  expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).not.toContain('unsafe-eval');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(['no-referrer', 'same-origin']).toContain(res.headers['referrer-policy']);
  expect(res.headers['x-powered-by']).toBeUndefined();
}

describe('example app with Redis and the Space emulator', () => {
  let run: Running;
  let agent: Agent;

  beforeAll(async () => {
    run = await start();
    agent = run.agent();
  });
  afterAll(() => run.close());

  test('landing page: a Sign in with Space button, security headers, no cookie yet', async () => {
    const res = await get(run, run.agent(), '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toContain('Sign in with Space');
    expect(res.text).toContain('href="/auth/space"');
    expect(res.text).toContain('<link rel="stylesheet" href="/static/app.css">');
    expectSecurityHeaders(res);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['set-cookie']).toBeUndefined();
  });

  test('static files and /healthz are public and cacheable as they should be', async () => {
    const css = await get(run, run.agent(), '/static/app.css');
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.headers['cache-control']).toBe('public, max-age=3600');
    expectSecurityHeaders(css);
    const health = await get(run, run.agent(), '/healthz');
    expect(health.body).toEqual({ status: 'ok', sessions: 'redis' });
  });

  test('signed out: pages go to Space, API requests get 401 JSON, unknown pages too', async () => {
    const fresh = run.agent();
    const page = await get(run, fresh, '/dashboard');
    expect(page.status).toBe(302);
    const location = new URL(page.headers.location as string);
    expect(location.origin + location.pathname).toBe(`${space.url}/oauth/auth`);
    expect(location.searchParams.get('redirect_uri')).toBe(`${run.url}/auth/space/callback`);
    const api = await get(run, fresh, '/space-api', { Accept: 'application/json' });
    expect(api.status).toBe(401);
    expect(api.body.error).toBe('unauthenticated');
    const avatar = await get(run, fresh, `/avatar/${JOHN_AVATAR}`, { Accept: 'application/json' });
    expect(avatar.status).toBe(401);
    expect(space.count(`/d/${JOHN_AVATAR}`)).toBe(0);
  });

  test('sign-in through the emulator lands on the dashboard: name, username, emails, organization, avatar', async () => {
    const { landing, callback } = await signIn(run, agent);
    expect(callback.headers.location).toBe('/dashboard');
    const cookie = ([] as string[]).concat(callback.headers['set-cookie'] ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(landing.status).toBe(200);
    expect(landing.text).toContain('<h1 id="display-name">John Doe</h1>');
    expect(landing.text).toContain('@john.doe');
    expect(landing.text).toMatch(/john\.doe@example\.com<\/span>\s*<span class="pill pill-ok"[^>]*>.*Verified/);
    expect(landing.text).toContain('<p class="org-name" id="org-name">Acme Corp</p>');
    expect(landing.text).toContain('Rockets &amp; anvils');
    expect(landing.text).toContain(`src="/avatar/${JOHN_AVATAR}"`);
  });

  test('a sign-in cancelled in Space, or a forged callback, lands on the start page with the reason', async () => {
    const browser = run.agent();
    const started = await get(run, browser, '/auth/space');
    const state = new URL(started.headers.location as string).searchParams.get('state')!;
    const cancelled = await get(run, browser, `/auth/space/callback?error=access_denied&state=${encodeURIComponent(state)}`);
    expect(cancelled.status).toBe(302);
    expect(cancelled.headers.location).toBe('/');
    const landing = await get(run, browser, '/');
    expect(landing.text).toContain('Sign-in did not complete: Sign-in was cancelled in Space');
    expect((await get(run, browser, '/')).text).not.toContain('Sign-in did not complete');

    const forged = await get(run, browser, '/auth/space/callback?code=abc&state=not-a-state-of-this-browser');
    expect(forged.status).toBe(302);
    expect(forged.headers.location).toBe('/');
    expect((await get(run, browser, '/')).text).toMatch(/Sign-in did not complete: Sign-in (callback has a malformed state|state does not match)/);
  });

  test('authenticated pages carry the security headers and Cache-Control: no-store', async () => {
    for (const path of ['/dashboard', '/space-api']) {
      const res = await get(run, agent, path);
      expect(res.status).toBe(200);
      expectSecurityHeaders(res);
      expect(res.headers['cache-control']).toBe('no-store');
    }
  });

  test('the avatar route proxies the user\'s own image and refuses every other id', async () => {
    const before = space.count(`/d/${JOHN_AVATAR}`);
    const img = await get(run, agent, `/avatar/${JOHN_AVATAR}`);
    expect(img.status).toBe(200);
    expect(img.headers['content-type']).toBe('image/svg+xml');
    expect(img.headers['cache-control']).toBe('private, max-age=300');
    expect(img.headers['content-security-policy']).toBe("default-src 'none'; style-src 'unsafe-inline'");
    expect(img.headers['x-content-type-options']).toBe('nosniff');
    expect((img.body as Buffer).toString('utf8')).toMatch(/^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(space.count(`/d/${JOHN_AVATAR}`)).toBe(before + 1);
    // The bearer token went to Space, not to the browser.
    const atSpace = space.requests.filter((r) => r.path === `/d/${JOHN_AVATAR}`).at(-1)!;
    expect(String(atSpace.headers.authorization)).toMatch(/^Bearer \S+$/);

    for (const other of [JOHN_SMALL_AVATAR, SAM_AVATAR, 'nope', '..%2F..%2Foauth%2Ftoken']) {
      const res = await get(run, agent, `/avatar/${other}`);
      expect(res.status).toBe(404);
    }
    expect(space.count(`/d/${SAM_AVATAR}`)).toBe(0);
    expect(space.count(`/d/${JOHN_SMALL_AVATAR}`)).toBe(0);
  });

  test('the Space API page calls Space as the user and shows a renewal once the token expired', async () => {
    const first = await get(run, agent, '/space-api');
    expect(first.status).toBe(200);
    expect(first.text).toContain('&quot;username&quot;: &quot;john.doe&quot;');
    expect(first.text).toContain('&quot;name&quot;: &quot;Acme Corp&quot;');
    expect(first.text).toContain('<p class="stat-value" id="renewal-count">0</p>');
    expect(first.text).not.toContain('pill-bad');

    // Space now says every token it issued has expired: the next call renews once and retries.
    const refreshes = space.count('/oauth/token', { grant_type: 'refresh_token' });
    space.expireAccessTokens();
    const second = await get(run, agent, '/space-api');
    expect(second.status).toBe(200);
    expect(second.text).not.toContain('pill-bad');
    expect(second.text).toContain('<p class="stat-value" id="renewal-count">1</p>');
    expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(refreshes + 1);

    const dashboard = await get(run, agent, '/dashboard');
    expect(dashboard.status).toBe(200);
    expect(dashboard.text).toContain('Acme Corp');
  });

  test('another user: unverified email, initials instead of an avatar', async () => {
    const other = run.agent();
    space.setAutoApprove('jane.roe');
    try {
      const { landing } = await signIn(run, other, '/dashboard');
      expect(landing.text).toContain('<h1 id="display-name">Jane Roe</h1>');
      expect(landing.text).toMatch(/jane\.roe@example\.com<\/span>\s*<span class="pill pill-muted"[^>]*>Unverified/);
      expect(landing.text).toContain('avatar-initials');
      expect(landing.text).not.toContain('src="/avatar/');
      expect((await get(run, other, `/avatar/${JOHN_AVATAR}`)).status).toBe(404);
    } finally {
      space.setAutoApprove('john.doe');
    }
  });

  test('sign-out needs the CSRF token: 403 without or with a wrong one, then it signs out for good', async () => {
    const page = await get(run, agent, '/dashboard');
    const token = csrfOf(page);

    const without = await send(run, 'POST /auth/signout (no token)', agent.post('/auth/signout').type('form').send({}));
    expect(without.status).toBe(403);
    const wrong = await send(run, 'POST /auth/signout (wrong token)', agent.post('/auth/signout').type('form').send({ _csrf: `${token.slice(0, -2)}xx` }));
    expect(wrong.status).toBe(403);
    expectSecurityHeaders(wrong);
    expect((await get(run, agent, '/dashboard')).status).toBe(200);

    const sessionsBefore = (await keysUnder(redis, `${run.prefix}sess:`)).length;
    const revokes = space.count(REVOKE_SELF);
    const out = await send(run, 'POST /auth/signout', agent.post('/auth/signout').type('form').send({ _csrf: token }));
    expect(out.status).toBe(302);
    expect(out.headers.location).toBe('/');
    expect(([] as string[]).concat(out.headers['set-cookie'] ?? []).join('\n')).toMatch(new RegExp(`${SESSION_COOKIE.replace('.', '\\.')}=;.*Expires=Thu, 01 Jan 1970`));
    expect(space.count(REVOKE_SELF)).toBe(revokes + 1);
    expect((await keysUnder(redis, `${run.prefix}sess:`)).length).toBe(sessionsBefore - 1);

    const after = await get(run, agent, '/dashboard');
    expect(after.status).toBe(302);
    expect(after.headers.location).toMatch(new RegExp(`^${space.url}/oauth/auth\\?`));
    const landing = await get(run, agent, '/');
    expect(landing.text).toContain('Sign in with Space');
  });

  test('a stale sign-out form of a signed-out browser just lands on the start page', async () => {
    const res = await send(run, 'POST /auth/signout (signed out)', run.agent().post('/auth/signout').type('form').send({ _csrf: 'whatever' }));
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/');
  });

  test('unknown pages of a signed-in user get the app\'s 404 page', async () => {
    const someone = run.agent();
    await signIn(run, someone);
    const res = await get(run, someone, '/no-such-page');
    expect(res.status).toBe(404);
    expect(res.text).toContain('Page not found');
    expectSecurityHeaders(res);
  });
});

describe('in-memory sessions (no Redis)', () => {
  test('sign-in, dashboard, a renewal and sign-out work with createApp({ redis: null })', async () => {
    const run = await start({ redis: null });
    try {
      const agent = run.agent();
      const health = await get(run, agent, '/healthz');
      expect(health.body).toEqual({ status: 'ok', sessions: 'memory' });
      const { landing } = await signIn(run, agent);
      expect(landing.text).toContain('John Doe');
      expect(landing.text).toContain('Memory');
      // Nothing of this app went to Redis.
      expect(await keysUnder(redis, run.prefix)).toEqual([]);

      space.expireAccessTokens();
      const api = await get(run, agent, '/space-api');
      expect(api.status).toBe(200);
      expect(api.text).toContain('<p class="stat-value" id="renewal-count">1</p>');
      expect(api.text).not.toContain('pill-bad');

      const out = await send(run, 'POST /auth/signout (memory)', agent.post('/auth/signout').type('form').send({ _csrf: csrfOf(api) }));
      expect(out.status).toBe(302);
      expect((await get(run, agent, '/dashboard')).status).toBe(302);
    } finally {
      await run.close();
    }
  });
});

describe('sign-ins that Space ends', () => {
  // Space's own behaviour (the emulator's default): a refresh token only on the first
  // sign-in of a user in an app; later sign-ins get none.
  let space2: SpaceEmulator;
  let run: Running;

  beforeAll(async () => {
    space2 = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], users: USERS, autoApprove: 'john.doe' });
  });
  afterAll(async () => {
    await run?.close();
    await space2.close();
  });

  test("a member's second browser renews through the member's one refresh token; revoked in Space, both are sent to sign in again", async () => {
    run = await start({ space: { url: space2.url, ...CLIENT, emulated: true } });
    const first = run.agent();
    const second = run.agent();
    await signIn(run, first, '/auth/space', space2);
    // Space gives this second sign-in no refresh token: it renews through the member's consent.
    await signIn(run, second, '/auth/space', space2);
    const page = await get(run, second, '/space-api');
    expect(page.text).toContain('Held by the server');

    space2.expireAccessTokens();
    const renewedSecond = await get(run, second, '/space-api');
    expect(renewedSecond.status).toBe(200);
    expect(renewedSecond.text).toContain('<p class="stat-value" id="renewal-count">1</p>');
    // The first browser takes the same renewal: no second token request.
    const renewed = await get(run, first, '/space-api');
    expect(renewed.status).toBe(200);
    expect(space2.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(1);

    // Revoked in Space: the library signs the user out and the page sends them to sign in.
    space2.revokeRefreshTokens('john.doe');
    const revoked = await get(run, first, '/space-api');
    expect(revoked.status).toBe(302);
    expect(revoked.headers.location).toBe('/auth/space?returnTo=%2Fspace-api');
    expect((await get(run, first, '/dashboard')).headers.location).toMatch(new RegExp(`^${space2.url}/oauth/auth\\?`));
    expect((await get(run, second, '/space-api')).status).toBe(302);
  });
});

describe('no token ever leaves the server', () => {
  test('no access or refresh token appears in any response body or header of this file', () => {
    expect(tokens.size).toBeGreaterThanOrEqual(4);
    expect(responses.length).toBeGreaterThan(30);
    for (const { what, headers, body } of responses) {
      const text = `${JSON.stringify(headers)}\n${body}`;
      for (const token of tokens) {
        if (text.includes(token)) throw new Error(`a token appears in the response to ${what}`);
      }
    }
    // The client secret neither.
    expect(responses.some((r) => r.body.includes(CLIENT.clientSecret) || JSON.stringify(r.headers).includes(CLIENT.clientSecret))).toBe(false);
  });
});

describe('configuration', () => {
  test('defaults: port 3000, local Redis (not required), a random session secret, the emulator', () => {
    const s = loadSettings({});
    expect(s.port).toBe(3000);
    expect(s.host).toBe('127.0.0.1');
    expect(s.redisURL).toBe(DEFAULT_REDIS_URL);
    expect(s.redisURLFromEnv).toBe(false);
    expect(s.sessionSecretGenerated).toBe(true);
    expect(s.sessionSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(loadSettings({}).sessionSecret).not.toBe(s.sessionSecret);
    expect(s.space).toBeUndefined();
    expect(s.accessTokenTTL).toBe(60);
  });

  test('a real Space org needs all three SPACE_* variables', () => {
    const all = { SPACE_URL: 'https://acme.jetbrains.space/', SPACE_CLIENT_ID: 'id', SPACE_CLIENT_SECRET: 'secret' };
    expect(loadSettings(all).space).toEqual({ url: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret' });
    expect(() => loadSettings({ SPACE_URL: all.SPACE_URL })).toThrow(/SPACE_CLIENT_ID and SPACE_CLIENT_SECRET must be set too/);
    expect(() => loadSettings({ ...all, SPACE_URL: 'acme' })).toThrow(ConfigError);
    expect(() => loadSettings({ PORT: 'eighty' })).toThrow(/PORT must be an integer/);
    expect(() => loadSettings({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(loadSettings({ SESSION_SECRET: 's3cret', REDIS_URL: 'redis://r:6380', ACCESS_TOKEN_TTL: '30' }))
      .toMatchObject({ sessionSecret: 's3cret', sessionSecretGenerated: false, redisURL: 'redis://r:6380', redisURLFromEnv: true, accessTokenTTL: 30 });
  });

  test('session store choice: Redis when it answers; memory only when REDIS_URL was not set', () => {
    expect(chooseSessionStore({ redisURL: DEFAULT_REDIS_URL, redisURLFromEnv: false }, true)).toEqual({ kind: 'redis' });
    expect(chooseSessionStore({ redisURL: 'redis://r:6379', redisURLFromEnv: true }, true)).toEqual({ kind: 'redis' });
    const memory = chooseSessionStore({ redisURL: DEFAULT_REDIS_URL, redisURLFromEnv: false }, false, 'connect ECONNREFUSED');
    expect(memory.kind).toBe('memory');
    expect(memory.kind === 'memory' && memory.notice).toMatch(/in memory.*single-process/);
    expect(memory.kind === 'memory' && memory.notice.split('\n')).toHaveLength(1);
    const fail = chooseSessionStore({ redisURL: 'redis://:hunter2@r:6379', redisURLFromEnv: true }, false, 'connect ECONNREFUSED');
    expect(fail.kind).toBe('fail');
    expect(fail.kind === 'fail' && fail.message).toMatch(/Cannot reach Redis at redis:\/\/:\*\*\*@r:6379 \(REDIS_URL\): connect ECONNREFUSED/);
    expect(fail.kind === 'fail' && fail.message).not.toContain('hunter2');
  });

  test('openSessionBackend against a port where nothing listens: memory by default, an error when REDIS_URL was set', async () => {
    const nowhere = 'redis://127.0.0.1:1';
    // (After a refused connection, ioredis's disconnect() leaves a `disconnectTimeout` timer
    // running on the dead socket: keep it short so that jest exits promptly.)
    const connect = (url: string) => tryConnect(url, { disconnectTimeout: 50 });
    const fallback = await openSessionBackend({ redisURL: nowhere, redisURLFromEnv: false }, connect);
    expect(fallback.redis).toBeNull();
    expect(fallback.notice).toMatch(/ECONNREFUSED/);
    await expect(openSessionBackend({ redisURL: nowhere, redisURLFromEnv: true }, connect)).rejects.toThrow(ConfigError);
    await expect(openSessionBackend({ redisURL: nowhere, redisURLFromEnv: true }, connect)).rejects.toThrow(/REDIS_URL/);
    const connected = await openSessionBackend({ redisURL: DEFAULT_REDIS_URL, redisURLFromEnv: false });
    try {
      expect(connected.redis).not.toBeNull();
      expect(connected.notice).toBeUndefined();
    } finally {
      connected.redis?.disconnect();
    }
  });

  test('redactURL hides credentials', () => {
    expect(redactURL('redis://user:pw@host:6379/0')).toBe('redis://user:***@host:6379/0');
    expect(redactURL('redis://:pw@host:6379')).toBe('redis://:***@host:6379');
    expect(redactURL('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});
