import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceErrorHandler, spaceSignOut, spaceTokenRefresh } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { connectRedis, deleteKeys, keysUnder, keyText, sessionTokens, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'gate-client', clientSecret: 'gate-secret' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let server: http.Server;
let base: string;

/** An internal dashboard protected with one line: app.use(passport.authenticate('space')). */
async function startGatedApp(configure: (app: express.Express) => void = () => undefined, authenticateOptions: object = {}) {
  const app = express();
  configure(app);
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({
    spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback', publicPaths: ['/', '/healthz', '/static/'],
  }, (_a, _r, profile, done) => done(null, { id: profile.id, username: profile.username }));
  authenticator.use(strategy);
  authenticator.serializeUser((u, d) => d(null, u));
  authenticator.deserializeUser((u: object, d) => d(null, u));
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.use(spaceTokenRefresh({ strategy, redis, keyPrefix: `${prefix}space:` }));
  app.use(authenticator.authenticate('space', authenticateOptions));
  app.get('/', (_req, res) => res.send('landing'));
  app.get('/healthz', (_req, res) => res.send('ok'));
  app.get('/static/app.css', (_req, res) => res.type('css').send('body{}'));
  app.get('/dashboard', (req, res) => res.send(`dashboard of ${(req.user as { username: string }).username}`));
  app.get('/reports', (req, res) => res.send(`reports ${JSON.stringify(req.query)}`));
  app.get('/api/data', (_req, res) => res.json({ data: 1 }));
  app.post('/api/data', (_req, res) => res.json({ saved: true }));
  app.post('/auth/signout', spaceSignOut({ strategy, redis, keyPrefix: `${prefix}space:` }));
  app.post('/auth/switch-account', spaceSignOut({ strategy, redis, keyPrefix: `${prefix}space:`, endSpaceSession: true }));
  app.use(spaceErrorHandler());
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return strategy;
}

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true });
  redis = await connectRedis();
});

beforeEach(async () => {
  prefix = uniquePrefix('gate');
  space.resetRequests();
  await startGatedApp();
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  await space.close();
  redis.disconnect();
});

const html = { Accept: 'text/html,application/xhtml+xml' };

/** Follows one trip to Space (auto-approved) and back to the callback; returns the callback answer. */
async function throughSpace(agent: ReturnType<typeof request.agent>, location: string) {
  expect(location.startsWith(`${space.url}/oauth/auth?`)).toBe(true);
  const approval = await fetch(location, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  return agent.get(back.pathname + back.search).set(html);
}

async function signedIn() {
  const agent = request.agent(base);
  const start = await agent.get('/dashboard').set(html).expect(302);
  const callback = await throughSpace(agent, start.headers.location as string);
  expect(callback.headers.location).toBe('/dashboard');
  return agent;
}

/** The rule for any post-sign-in Location: a path on the app's own origin. */
function expectLocal(location: string) {
  expect(location).toMatch(/^\/(?![/\\])/);
  expect(location).not.toMatch(/[\u0000-\u001f\u007f]/);
  expect(new URL(location, base).origin).toBe(base);
}

describe('gate mode: app.use(passport.authenticate("space"))', () => {
  test('sends a browser to Space, completes the callback in place and lands on the URL first asked for', async () => {
    const agent = request.agent(base);
    const start = await agent.get('/reports?year=2026&q=a%20b').set(html).expect(302);
    const callback = await throughSpace(agent, start.headers.location as string);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/reports?year=2026&q=a%20b');
    expect((await agent.get('/reports?year=2026&q=a%20b').expect(200)).text).toBe('reports {"year":"2026","q":"a b"}');
  });

  test('lets signed-in requests through untouched: no redirect, no token request', async () => {
    const agent = await signedIn();
    const tokenCalls = space.count('/oauth/token');
    expect((await agent.get('/dashboard').set(html).expect(200)).text).toBe('dashboard of john.doe');
    expect((await agent.get('/api/data').set('Accept', 'application/json').expect(200)).body).toEqual({ data: 1 });
    expect((await agent.post('/api/data').expect(200)).body).toEqual({ saved: true });
    expect(space.count('/oauth/token')).toBe(tokenCalls);
  });

  test.each([
    ['Accept: application/json', (r: request.Test) => r.set('Accept', 'application/json')],
    ['X-Requested-With', (r: request.Test) => r.set('X-Requested-With', 'XMLHttpRequest')],
  ])('answers an unauthenticated API request (%s) with 401 JSON, never a redirect', async (_name, decorate) => {
    const res = await decorate(request(base).get('/api/data')).expect(401);
    expect(res.body).toMatchObject({ error: 'unauthenticated' });
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="Space"/);
    expect(res.headers.location).toBeUndefined();
  });

  test('an image or fetch() to a protected path gets 401, not a trip to Space, and starts no sign-in', async () => {
    const image = await request(base).get('/dashboard').set('Accept', 'image/avif,image/webp,*/*;q=0.8')
      .set('Sec-Fetch-Mode', 'no-cors').set('Sec-Fetch-Dest', 'image').expect(401);
    expect(image.headers['set-cookie']).toBeUndefined();
    await request(base).get('/dashboard').set('Accept', '*/*').set('Sec-Fetch-Mode', 'cors').expect(401);
    // Without Sec-Fetch headers (older browsers), an Accept without HTML is not a navigation either.
    await request(base).get('/dashboard').set('Accept', 'image/png,image/*;q=0.8').expect(401);
    // A real navigation is.
    await request(base).get('/dashboard').set(html).set('Sec-Fetch-Mode', 'navigate').expect(302);
    expect(space.count('/oauth/auth')).toBe(0);
  });

  test('answers an unauthenticated POST with 401 JSON', async () => {
    const res = await request(base).post('/api/data').set(html).expect(401);
    expect(res.body.error).toBe('unauthenticated');
  });

  test('lets public paths through and keeps others behind the gate', async () => {
    expect((await request(base).get('/').set(html).expect(200)).text).toBe('landing');
    expect((await request(base).get('/healthz').expect(200)).text).toBe('ok');
    await request(base).get('/static/app.css').expect(200);
    await request(base).get('/staticfile').set(html).expect(302);
    await request(base).get('/healthz/deeper').set(html).expect(302);
    expect(space.count('/oauth/auth')).toBe(0);
  });

  test('the sign-in path starts a sign-in that lands on returnTo, or "/" without one', async () => {
    const agent = request.agent(base);
    const start = await agent.get('/auth/space?returnTo=%2Fdashboard').set(html).expect(302);
    expect((await throughSpace(agent, start.headers.location as string)).headers.location).toBe('/dashboard');
    // Already signed in: the sign-in path just goes there.
    expect((await agent.get('/auth/space?returnTo=%2Freports').expect(302)).headers.location).toBe('/reports');

    const other = request.agent(base);
    const plain = await other.get('/auth/space').set(html).expect(302);
    expect((await throughSpace(other, plain.headers.location as string)).headers.location).toBe('/');
  });

  test('completes sign-ins started in two tabs of one session, each landing on its own page', async () => {
    const agent = request.agent(base);
    const tab1 = await agent.get('/reports?tab=1').set(html).expect(302);
    const tab2 = await agent.get('/dashboard').set(html).expect(302);
    expect((await throughSpace(agent, tab2.headers.location as string)).headers.location).toBe('/dashboard');
    expect((await throughSpace(agent, tab1.headers.location as string)).headers.location).toBe('/reports?tab=1');
  });

  test('a replayed callback of a signed-in user goes home without a token request', async () => {
    const agent = request.agent(base);
    const start = await agent.get('/dashboard').set(html).expect(302);
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    await agent.get(back.pathname + back.search).expect(302);
    const tokenCalls = space.count('/oauth/token');
    const replay = await agent.get(back.pathname + back.search).set(html).expect(302);
    expect(replay.headers.location).toBe('/');
    expect(space.count('/oauth/token')).toBe(tokenCalls);
  });

  test('a callback with a foreign state shows a retry page with a sign-in link (JSON for API calls)', async () => {
    const page = await request(base).get('/auth/space/callback?code=x&state=' + 'A'.repeat(43)).set(html).expect(403);
    expect(page.text).toContain('Sign-in could not be completed');
    expect(page.text).toContain('href="/auth/space"');
    expect(page.headers['cache-control']).toBe('no-store');
    const json = await request(base).get('/auth/space/callback?code=x&state=' + 'A'.repeat(43)).set('Accept', 'application/json').expect(403);
    expect(json.body.error).toBe('sign_in_failed');
    expect(space.count('/oauth/token')).toBe(0);
  });

  const OPEN_REDIRECTS = [
    '//evil.example', '///evil.example', '/\\evil.example', '\\/evil.example', '/%2F%2Fevil.example', '/%5Cevil.example',
    '%2F%2Fevil.example', '/\t/evil.example', '/%09/evil.example', 'https://evil.example', 'http:evil.example',
    'https://app.example@evil.example', 'https://app.example.evil.example', 'javascript:alert(1)', 'data:text/html,x',
    '\uFF0F\uFF0Fevil.example', '/ok%0d%0aSet-Cookie:%20x=y', '/ok\r\nSet-Cookie: x=y', `/${'a'.repeat(10_000)}`, ' //evil.example',
  ];

  test.each(OPEN_REDIRECTS.map((p) => [JSON.stringify(p).slice(0, 40), p]))('returnTo %s ends on a local path', async (_name, payload) => {
    const agent = request.agent(base);
    const start = await agent.get(`/auth/space?returnTo=${encodeURIComponent(payload)}`).set(html).expect(302);
    const callback = await throughSpace(agent, start.headers.location as string);
    expect(callback.status).toBe(302);
    expectLocal(callback.headers.location as string);
  });

  test.each(['//evil.example', '///evil.example/x', '/\\evil.example', '/%2F%2Fevil.example', '/%5C%5Cevil.example'])(
    'a protected URL like %s, remembered by the gate, ends on a local path', async (path) => {
      // Sent raw, as a browser or an attacker can (supertest would normalize the path).
      const first = await new Promise<{ location: string; cookie: string }>((resolve, reject) => {
        const req = http.request(base, { path, headers: html }, (res) => {
          res.resume();
          resolve({ location: res.headers.location ?? '', cookie: (res.headers['set-cookie'] ?? [''])[0]!.split(';')[0]! });
        });
        req.on('error', reject);
        req.end();
      });
      expect(first).toEqual({ location: expect.stringContaining(`${space.url}/oauth/auth?`), cookie: expect.any(String) });
      const approval = await fetch(first.location, { redirect: 'manual' });
      const back = new URL(approval.headers.get('location')!);
      const callback = await fetch(`${base}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: first.cookie, ...html } });
      expect(callback.status).toBe(302);
      expectLocal(callback.headers.get('location')!);
    });

  test('behind a TLS proxy with trust proxy, a relative callbackURL becomes the external https URL', async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await startGatedApp((app) => app.set('trust proxy', 'loopback'));
    const res = await request(base).get('/dashboard').set(html)
      .set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'dash.example.com').expect(302);
    expect(new URL(res.headers.location as string).searchParams.get('redirect_uri')).toBe('https://dash.example.com/auth/space/callback');
  });

  test('without trust proxy, forwarded headers cannot change the callback URL', async () => {
    const res = await request(base).get('/dashboard').set(html)
      .set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'evil.example').expect(302);
    expect(new URL(res.headers.location as string).searchParams.get('redirect_uri')).toBe(`${base}/auth/space/callback`);
  });

  test('successRedirect is where a sign-in without a remembered URL lands', async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await startGatedApp(undefined, { successRedirect: '/dashboard' });
    const agent = request.agent(base);
    const start = await agent.get('/auth/space').set(html).expect(302);
    expect((await throughSpace(agent, start.headers.location as string)).headers.location).toBe('/dashboard');
  });
});

describe('sign-out', () => {
  test('revokes the refresh token at Space, leaves no token in Redis, destroys the session and redirects', async () => {
    const agent = await signedIn();
    const sessionKeys = await keysUnder(redis, `${prefix}sess:`);
    expect(sessionKeys).toHaveLength(1);
    const stored = (await sessionTokens(redis, sessionKeys[0]!))!;

    const res = await agent.post('/auth/signout').type('form').send({}).set(html).expect(302);
    expect(res.headers.location).toBe('/');
    expect((res.headers['set-cookie'] as unknown as string[]).join()).toMatch(/^connect\.sid=; Path=\/; Expires=Thu, 01 Jan 1970/);
    expect(space.count('/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self')).toBe(1);
    expect(await redis.exists(sessionKeys[0]!)).toBe(0);
    for (const key of await keysUnder(redis, prefix)) {
      const value = await keyText(redis, key);
      expect(value).not.toContain(stored.accessToken);
      expect(value).not.toContain(stored.refreshToken);
    }
    // Space no longer honours the refresh token.
    const refresh = await fetch(`${space.url}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: stored.refreshToken }),
    });
    expect(refresh.status).toBe(400);
    await agent.get('/dashboard').set(html).expect(302);
  });

  test('answers 204 to an API sign-out', async () => {
    const agent = await signedIn();
    await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);
    await agent.get('/api/data').set('Accept', 'application/json').expect(401);
  });

  test.each(['//evil.example', 'https://evil.example', '/\\evil.example', 'javascript:alert(1)'])('ignores an unsafe returnTo %s', async (payload) => {
    const agent = await signedIn();
    const res = await agent.post('/auth/signout').type('form').send({ returnTo: payload }).set(html).expect(302);
    expect(res.headers.location).toBe('/');
  });

  test('keeps a safe returnTo', async () => {
    const agent = await signedIn();
    const res = await agent.post('/auth/signout').type('form').send({ returnTo: '/healthz' }).set(html).expect(302);
    expect(res.headers.location).toBe('/healthz');
  });

  test('endSpaceSession also sends the browser to Space with request_credentials=required', async () => {
    const agent = await signedIn();
    const res = await agent.post('/auth/switch-account').set(html).expect(302);
    const url = new URL(res.headers.location as string);
    expect(url.origin + url.pathname).toBe(`${space.url}/oauth/auth`);
    expect(url.searchParams.get('request_credentials')).toBe('required');
    await agent.get('/dashboard').set(html).expect(302);
    for (const key of await keysUnder(redis, prefix)) expect(await keyText(redis, key)).not.toContain('accessToken');
    // Signing in again from there works and lands on "/".
    expect((await throughSpace(agent, res.headers.location as string)).headers.location).toBe('/');
  });

  test('still signs out locally when Space does not answer the revocation', async () => {
    const agent = await signedIn();
    space.inject({ path: '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self', status: 503, body: '' });
    await agent.post('/auth/signout').set(html).expect(302);
    space.clearFaults();
    await agent.get('/dashboard').set(html).expect(302);
    for (const key of await keysUnder(redis, prefix)) expect(await keyText(redis, key)).not.toContain('accessToken');
  });
});
