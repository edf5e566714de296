import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import type Redis from 'ioredis';
import request from 'supertest';
import { createHash, randomBytes } from 'node:crypto';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { SpaceStrategy, spaceApi, spaceErrorHandler, spaceSignOut, spaceTokenRefresh } from 'passport-jetbrains-space';
import { connectRedis, deleteKeys, keysUnder, keyText, startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';

/**
 * Sessions that nothing can undo, lose or leak: each behaviour tried from outside against an
 * app set up as the README says, on a real Redis (the machine's, or one of the test's own
 * where Redis must fail), with the emulator over HTTP.
 */
const CLIENT = { clientID: 'sessions-client', clientSecret: 'sessions-secret-CANARY-77a1' };
const html = { Accept: 'text/html', 'Sec-Fetch-Mode': 'navigate' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const figures = { racesTried: 0, sessionsResurrected: 0, secretsFound: 0, sessionsLost: 0 };

let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
const servers: http.Server[] = [];
const logs: string[] = [];

interface AppOptions { redis?: Redis; delayMs?: number; encryptionKeys?: string[]; gate?: boolean; accessTokenTTL?: number }

async function startApp(o: AppOptions = {}) {
  const client = o.redis ?? redis;
  const app = express();
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({
    spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback', redis: client, keyPrefix: `${prefix}space:`,
    cookieName: 'sid', publicPaths: ['/', '/public'], timeout: 1000, redisTimeout: 500,
    ...(o.encryptionKeys ? { encryptionKeys: o.encryptionKeys } : {}),
  }, (_a, _r, profile, done) => done(null, profile));
  authenticator.use(strategy);
  authenticator.serializeUser((u, d) => d(null, u));
  authenticator.deserializeUser((u: Express.User, d) => d(null, u));
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ store: new RedisStore({ client, prefix: `${prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  if (o.delayMs) app.use((_req, _res, next) => void setTimeout(next, o.delayMs));
  app.use(spaceTokenRefresh({ strategy }));
  let release: () => void = () => undefined;
  let held = Promise.resolve();
  if (o.gate) app.use(authenticator.authenticate('space'));
  else {
    app.get('/auth/space', authenticator.authenticate('space'));
    app.get('/auth/space/callback', authenticator.authenticate('space', { failureRedirect: '/failed' }), (_q, r) => r.redirect('/me'));
  }
  app.get('/me', (req, res) => (req.user ? res.json({ user: (req.user as { username: string }).username }) : res.status(401).json({ error: 'unauthenticated' })));
  app.get('/public', (req, res) => res.json({ anonymous: !req.user }));
  // Which access token the request would call Space with (a hash of it), or 401 without one.
  app.get('/api/token', (req, res) => {
    const token = req.spaceTokens?.accessToken;
    if (!token) return void res.status(401).json({ error: 'unauthenticated' });
    res.json({ token: createHash('sha256').update(token).digest('hex').slice(0, 16) });
  });
  app.post('/slow', async (req, res) => {
    (req.session as unknown as Record<string, unknown>).note = 'written late';
    await held;
    res.json({ ok: true });
  });
  app.get('/api/me', async (req, res, next) => {
    try {
      res.json(await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'id' } }));
    } catch (err) {
      next(err);
    }
  });
  app.post('/auth/signout', spaceSignOut({ strategy }));
  app.use((err: Error, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
    logs.push(String(err), JSON.stringify(err), String((err as { cause?: unknown }).cause ?? ''));
    next(err);
  });
  app.use(spaceErrorHandler());
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url, strategy,
    agent: () => request.agent(url),
    hold() {
      held = new Promise<void>((resolve) => { release = resolve; });
      return () => release();
    },
  };
}

async function through(agent: ReturnType<typeof request.agent>, location: string) {
  const approval = await fetch(location, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  return agent.get(back.pathname + back.search).set(html);
}

async function signIn(agent: ReturnType<typeof request.agent>, start = '/auth/space') {
  const res = await agent.get(start).set(html).expect(302);
  return through(agent, res.headers.location as string);
}

async function allText(client: Redis = redis): Promise<string> {
  const keys = await keysUnder(client, prefix);
  return (await Promise.all(keys.map(async (k) => `${k}=${await keyText(client, k)}`))).join('\n');
}

beforeAll(async () => {
  redis = await connectRedis();
});

beforeEach(async () => {
  prefix = uniquePrefix('sessions');
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true });
});

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await space.close();
  await deleteKeys(redis, prefix);
});

afterAll(() => {
  redis.disconnect();
  // The figures this area is judged by.
  process.stdout.write(`sessions figures: races tried ${figures.racesTried}, sessions resurrected ${figures.sessionsResurrected}, `
    + `secrets found in logs/errors/answers/keys ${figures.secretsFound}, sessions lost ${figures.sessionsLost}\n`);
});

describe('sign-out is final', () => {
  test('a request still running when the user signs out cannot bring the session back', async () => {
    const app = await startApp();
    for (let i = 0; i < 5; i++) {
      const agent = app.agent();
      await signIn(agent);
      await agent.get('/me').expect(200);
      const cookie = (await agent.get('/me')).request.cookies;
      const release = app.hold();
      const slow = request(app.url).post('/slow').set('Cookie', cookie).then((r) => r);
      await sleep(30);
      await agent.post('/auth/signout').set(html).expect(302);
      release();
      await slow;
      figures.racesTried++;
      // The slow request saved its copy of the session back; it must not authenticate.
      const replay = await request(app.url).get('/me').set('Cookie', cookie);
      if (replay.status === 200) figures.sessionsResurrected++;
      // Signed out: sent to sign in again (or 401 for API requests), never served.
      expect(replay.status).toBe(302);
      expect(replay.headers.location).toMatch(/^\/auth\/space/);
      await request(app.url).get('/me').set('Cookie', cookie).set('Accept', 'application/json').expect(401);
    }
  });

  test('tokens renewed while the user signs out are dead everywhere, and the grant is revoked at Space', async () => {
    await space.close();
    space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true, accessTokenTTL: 2 });
    const app = await startApp();
    const agent = app.agent();
    await signIn(agent);
    const cookie = (await agent.get('/me')).request.cookies;
    await sleep(2100);
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 400, times: 1 });
    const renewing = request(app.url).get('/me').set('Cookie', cookie).set(html).then((r) => r);
    await sleep(100);
    await agent.post('/auth/signout').set(html).expect(302);
    await renewing;
    figures.racesTried++;
    await sleep(200);
    const replay = await request(app.url).get('/me').set('Cookie', cookie).set('Accept', 'application/json');
    if (replay.status === 200) figures.sessionsResurrected++;
    expect(replay.status).toBe(401);
    expect(await allText()).not.toMatch(/accessToken/);
    // Every refresh token Space issued is dead at Space.
    const refreshTokens = space.requests.filter((r) => r.path === '/oauth/token').map((r) => r.body?.refresh_token).filter(Boolean) as string[];
    for (const token of new Set(refreshTokens)) {
      const res = await fetch(`${space.url}/oauth/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }),
      });
      expect(res.status).toBe(400);
    }
  });

  test('signing out works while Space is down and the token has expired: signed out locally, nothing left in Redis', async () => {
    await space.close();
    space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 1 });
    const app = await startApp();
    const agent = app.agent();
    await signIn(agent);
    await sleep(1100);
    space.inject({ path: '/oauth/token', hang: true });
    space.inject({ path: '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self', hang: true });
    const started = Date.now();
    await agent.post('/auth/signout').set(html).expect(302);
    expect(Date.now() - started).toBeLessThan(5000);
    await agent.get('/me').expect(401);
    expect(await allText()).not.toMatch(/accessToken|refreshToken/);
  });
});

describe('with encryptionKeys, every store refuses a plain value', () => {
  const key = randomBytes(32).toString('base64');
  const hashOf = (token: string) => createHash('sha256').update(token).digest('hex').slice(0, 16);
  /** A plain token set of the attacker's, for `grant`: newer than anything the app wrote. */
  const planted = (grant: string) => ({
    accessToken: 'planted-access-token', refreshToken: 'planted-refresh-token', tokenType: 'Bearer', scope: 'global:Profile.View',
    expiresAt: Date.now() + 3_600_000, issuedAt: Date.now(), grant, version: 99,
  });
  /** A fresh app process (nothing cached) on the same Redis and keys, asked with this browser's cookie. */
  const fromAnotherProcess = async (cookie: string) => {
    const other = await startApp({ encryptionKeys: [key] });
    return request(other.url).get('/api/token').set('Cookie', cookie).set('Accept', 'application/json');
  };

  test('the sign-in record: a plain record in place of the sealed one ends the sign-in; its tokens are never used', async () => {
    const app = await startApp({ encryptionKeys: [key] });
    const agent = request.agent(app.url);
    await signIn(agent);
    const cookie = (await agent.get('/public')).request.cookies;
    // The sign-in's record; beside it (consent model) the member's consent, `{c:<hash>}:tokens`,
    // which holds the refresh token and is read by the same RecordStore rule.
    const records = (await keysUnder(redis, `${prefix}space:`)).filter((k) => k.endsWith(':tokens') && !k.includes('{c:'));
    expect(records).toHaveLength(1);
    const grant = /\{([^}]+)\}:tokens$/.exec(records[0]!)![1]!;
    await redis.set(records[0]!, JSON.stringify(planted(grant)), 'PX', 600_000);
    const res = await fromAnotherProcess(cookie);
    expect(res.body.token).not.toBe(hashOf('planted-access-token'));
    expect(res.status).toBe(401);
  });

  test('the session\'s own copy: plain tokens in the session sign it out', async () => {
    const app = await startApp({ encryptionKeys: [key] });
    const agent = request.agent(app.url);
    await signIn(agent);
    const cookie = (await agent.get('/public')).request.cookies;
    const sessionKey = (await keysUnder(redis, `${prefix}sess:`))[0]!;
    const value = JSON.parse((await redis.get(sessionKey))!);
    value.space.tokens = planted('a-grant-of-the-attacker');
    await redis.set(sessionKey, JSON.stringify(value), 'PX', 600_000);
    const res = await fromAnotherProcess(cookie);
    expect(res.body.token).not.toBe(hashOf('planted-access-token'));
    expect(res.status).toBe(401);
  });

  test('a pending sign-in: a plain one in place of the sealed one is unknown, and no code is exchanged', async () => {
    const app = await startApp({ encryptionKeys: [key] });
    const agent = request.agent(app.url);
    const start = await agent.get('/auth/space').set(html).expect(302);
    const pendingKey = (await keysUnder(redis, `${prefix}space:`)).find((k) => k.endsWith(':pending'))!;
    const fields = await redis.hgetall(pendingKey);
    const [field, stored] = Object.entries(fields).find(([, v]) => v.includes('|'))!;
    const createdAt = Number(stored.slice(0, stored.indexOf('|')));
    const callbackURL = new URL('/auth/space/callback', app.url).href;
    await redis.hset(pendingKey, field, `${createdAt}|${JSON.stringify({ verifier: 'v'.repeat(43), redirectURI: callbackURL, scope: 'global:Profile.View', createdAt })}`);
    space.resetRequests();
    const callback = await through(agent, start.headers.location as string);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/failed');
    expect(space.count('/oauth/token')).toBe(0);
  });
});

describe('state is stored before the browser is sent anywhere', () => {
  let own: OwnRedis;
  let ownClient: Redis;
  beforeEach(async () => {
    own = await startOwnRedis();
    ownClient = await connectRedis(own.url);
  });
  afterEach(async () => {
    ownClient.disconnect();
    await own.stop();
  });

  test('the start route answers 503 with Retry-After, not a redirect, when the store is out of memory', async () => {
    const app = await startApp({ redis: ownClient });
    await ownClient.config('SET', 'maxmemory-policy', 'noeviction');
    await ownClient.config('SET', 'maxmemory', '1');
    const res = await app.agent().get('/auth/space').set(html);
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const json = await app.agent().get('/auth/space').set('Accept', 'application/json');
    expect(json.status).toBe(503);
    expect(json.body.error).toBe('temporarily_unavailable');
  });

  test('the start route answers 503 when Redis is down', async () => {
    const app = await startApp({ redis: ownClient });
    await own.stop();
    const res = await app.agent().get('/auth/space').set(html);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
  });

  test('the callback answers 503 when the signed-in session cannot be stored (read-only replica)', async () => {
    const app = await startApp({ redis: ownClient });
    const agent = app.agent();
    const start = await agent.get('/auth/space').set(html).expect(302);
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    // The store turns into a read-only replica of a server that is not there.
    await ownClient.config('SET', 'replica-read-only', 'yes');
    await ownClient.replicaof('127.0.0.1', String(1));
    try {
      const res = await agent.get(back.pathname + back.search).set(html);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.text).not.toMatch(/accessToken|eyJ/);
    } finally {
      await ownClient.replicaof('NO', 'ONE');
    }
  });

  test('a store refusing a session write (out of memory) never puts the session in an error: no token in any log', async () => {
    const app = await startApp({ redis: ownClient });
    const agent = app.agent();
    const start = await agent.get('/auth/space').set(html).expect(302);
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    logs.length = 0;
    await ownClient.config('SET', 'maxmemory-policy', 'noeviction');
    await ownClient.config('SET', 'maxmemory', '1');
    const res = await agent.get(back.pathname + back.search).set(html);
    await ownClient.config('SET', 'maxmemory', '0');
    expect(res.status).toBe(503);
    const issued = space.requests.filter((r) => r.path === '/api/http/team-directory/profiles/me').map((r) => r.headers.authorization?.split(' ')[1]);
    const text = logs.join('\n') + res.text;
    for (const token of issued) if (token && text.includes(token)) figures.secretsFound++;
    expect(text).not.toMatch(/eyJ|accessToken|refreshToken/);
  });
});

test('ten sign-ins started at the same moment in one browser session all complete', async () => {
  const app = await startApp({ gate: true, delayMs: 50 });
  const agent = app.agent();
  await agent.get('/public').expect(200);
  // A session exists (a first sign-in started and abandoned), then ten tabs open at once.
  await agent.get('/auth/space').set(html).expect(302);
  const starts = await Promise.all(Array.from({ length: 10 }, (_, i) => agent.get(`/page-${i}`).set(html)));
  figures.racesTried += 10;
  expect(starts.every((s) => s.status === 302)).toBe(true);
  let completed = 0;
  for (const [i, start] of starts.entries()) {
    const res = await through(agent, start.headers.location as string);
    if (res.status === 302 && res.headers.location === `/page-${i}`) completed++;
  }
  figures.sessionsLost += 10 - completed;
  expect(completed).toBe(10);
});

test('a damaged session value makes the request anonymous, and the next sign-in starts clean', async () => {
  const app = await startApp();
  const agent = app.agent();
  await signIn(agent);
  const [key] = await keysUnder(redis, `${prefix}sess:`);
  for (const damage of ['not json {', JSON.stringify({ space: 'x' }), JSON.stringify([1, 2])]) {
    await redis.set(key!, damage, 'EX', 86400);
    const res = await agent.get('/public');
    expect(res.status).toBe(200);
    expect(res.body.anonymous).toBe(true);
  }
  await signIn(agent);
  await agent.get('/me').expect(200);
});

test('visitors who never sign in cost little: no session, one pending set each that lives stateMaxAge', async () => {
  const app = await startApp({ gate: true });
  for (let i = 0; i < 30; i++) await request(app.url).get('/dashboard').set(html).expect(302);
  const keys = await keysUnder(redis, prefix);
  expect(keys.filter((k) => k.includes(':pending'))).toHaveLength(30);
  // Besides them, the sign-in rate limit's one counter for their address (it lives one minute).
  expect(keys.filter((k) => !k.includes(':pending'))).toEqual([expect.stringMatching(/\{rl:signIn:a\d+\}:count$/)]);
  for (const key of keys) {
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10 * 60_000);
  }
});

test('signing in as someone else in the same browser ends the first user\'s sign-in at Space and in Redis', async () => {
  const app = await startApp();
  const agent = app.agent();
  await signIn(agent);
  const firstRefresh = space.requests.filter((r) => r.path === '/oauth/token').length;
  expect(firstRefresh).toBe(1);
  space.setAutoApprove('jane.roe');
  await signIn(agent);
  expect((await agent.get('/me').expect(200)).body.user).toBe('jane.roe');
  await sleep(100);
  expect(space.count('/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self')).toBe(1);
  expect(await allText()).toMatch(/"ended":true/);
});

test('what the library puts in the session is bounded, whatever Space answers', async () => {
  const app = await startApp();
  const huge = { id: 'u1', username: 'big', name: { firstName: 'B'.repeat(5000), lastName: 'L' }, emails: Array.from({ length: 500 }, (_, i) => ({ email: `e${i}@x.example`, verified: true })), about: 'x'.repeat(700_000) };
  space.inject({ path: '/api/http/team-directory/profiles/me', status: 200, body: huge });
  const agent = app.agent();
  await signIn(agent);
  const [key] = await keysUnder(redis, `${prefix}sess:`);
  const size = (await redis.get(key!))!.length;
  expect(size).toBeLessThan(24 * 1024);
});

describe('tokens encrypted at rest', () => {
  const key1 = randomBytes(32).toString('base64');
  const key2 = randomBytes(32).toString('hex');

  test('no token appears in plaintext in any Redis key after sign-in and renewal; rotation keeps users signed in; a removed key signs out cleanly', async () => {
    await space.close();
    space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true, accessTokenTTL: 2 });
    let app = await startApp({ encryptionKeys: [key1] });
    const agent = request.agent(app.url);
    await signIn(agent);
    await sleep(1200);
    await agent.get('/api/me').expect(200);
    const tokens = space.requests.flatMap((r) => [r.headers.authorization?.split(' ')[1], r.body?.refresh_token]).filter((t): t is string => !!t && !t.includes(':') && t.length > 20);
    const text = await allText();
    for (const token of tokens) if (text.includes(token)) figures.secretsFound++;
    for (const token of tokens) expect(text).not.toContain(token);
    // No base64 JSON (`{"` encodes as eyJ) outside the sealed values; the ciphertext itself is random
    // base64url, where eyJ turns up by chance about once in a hundred sign-ins.
    const sealed = text.match(/s1\.[\w-]{40,}/g) ?? [];
    expect(sealed.length).toBeGreaterThan(0);
    expect(text.replace(/s1\.[\w-]{40,}/g, '')).not.toMatch(/eyJ/);

    const cookie = (await agent.get('/public')).request.cookies;
    // A new first key: everyone stays signed in.
    for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
    app = await startApp({ encryptionKeys: [key2, key1] });
    await request(app.url).get('/me').set('Cookie', cookie).expect(200);
    // The old key removed: its sessions read as signed out, never as an error.
    for (const s of servers.splice(0)) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
    app = await startApp({ encryptionKeys: [randomBytes(32).toString('base64')] });
    const res = await request(app.url).get('/me').set('Cookie', cookie).set('Accept', 'application/json');
    expect(res.status).toBe(401);
    await request(app.url).get('/public').set('Cookie', cookie).expect(200, { anonymous: true });
  });
});
