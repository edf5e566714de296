import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, startOwnRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';

const CLIENT = { clientID: 'writes-client', clientSecret: 'writes-secret-canary-91c2' };

let space: SpaceEmulator;
let redis: Redis;
let monitor: Awaited<ReturnType<Redis['monitor']>>;
let prefix: string;
let app: TestApp;
let commands: string[][] = [];
let own: OwnRedis;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  // A Redis of this file's own: MONITOR on a shared one echoes everyone's traffic (ioredis can
  // even lose track of its MONITOR reply under it). Nothing here is about Redis faults: generous
  // timeouts, so a loaded machine cannot fail the set-up.
  own = await startOwnRedis();
  redis = await connectRedis(own.url, { connectTimeout: 10_000, commandTimeout: 10_000 });
  monitor = await redis.duplicate().monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => typeof a === 'string' && a.startsWith(prefix))) commands.push(args.map(String));
  });
});

beforeEach(async () => {
  prefix = uniquePrefix('signin-writes');
  commands = [];
});

afterEach(async () => {
  await app?.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  monitor.disconnect();
  await space.close();
  redis.disconnect();
  await own.stop();
});

/** The session writes (SET of a `sess:` key) seen since `from`, once Redis has reported them. */
async function sessionWrites(from: number): Promise<string[][]> {
  await redis.ping(); // MONITOR reports in order: after this PONG, every earlier command is in
  await new Promise((resolve) => setTimeout(resolve, 50));
  return commands.slice(from).filter((c) => c[0]!.toLowerCase() === 'set' && c[1]!.startsWith(`${prefix}sess:`));
}

test('the sign-in callback stores the new session once, naming its sign-in, and the record with the tokens before it answers', async () => {
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix });
  const agent = app.agent();
  const start = await agent.get('/auth/space');
  expect(start.status).toBe(302);
  const approval = await fetch(new URL(start.headers.location as string), { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  const before = commands.length;
  const callback = await agent.get(back.pathname + back.search);
  expect(callback.status).toBe(302);
  const writes = await sessionWrites(before);
  expect(writes).toHaveLength(1);
  const ref = JSON.parse(writes[0]![2]!).space.tokens;
  expect(ref).toEqual({ grant: expect.any(String), version: 1, expiresAt: expect.any(Number), issuedAt: expect.any(Number) });
  // Before the answer: the browser may ask with its new cookie at once, on any app process.
  const record = JSON.parse((await redis.get(`${prefix}space:{${ref.grant}}:tokens`))!);
  expect(record.accessToken).toEqual(expect.any(String));
  expect((await agent.get('/me')).status).toBe(200);
});

test('a session changed after the login is still written at the end of the request', async () => {
  app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix,
    // The app's handler after authenticate notes something in the session before it answers.
    setup: (express) => express.use('/auth/space/callback', (req, res, next) => {
      const redirect = res.redirect.bind(res) as (url: string) => void;
      res.redirect = ((url: string) => {
        (req.session as unknown as Record<string, unknown>).welcomed = true;
        redirect(url);
      }) as typeof res.redirect;
      next();
    }),
  });
  const agent = app.agent();
  const { callback } = await signIn(agent);
  expect(callback.status).toBe(302);
  const key = app.sessionKeyFromCookie(callback.headers['set-cookie']);
  const stored = JSON.parse((await redis.get(key!))!);
  expect(stored.welcomed).toBe(true);
  expect(stored.space.tokens.grant).toEqual(expect.any(String));
  expect((await agent.get('/me')).status).toBe(200);
});

test('a browser without a session: the start stores none, and the callback stores the new one without reading or deleting any', async () => {
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix });
  const startAt = commands.length;
  const start = await fetch(`${app.url}/auth/space`, { redirect: 'manual' });
  expect(start.status).toBe(302);
  // One cookie: the browser's sign-in cookie, a random value for the callback to name its pending sign-ins by.
  const setCookies = start.headers.getSetCookie();
  expect(setCookies).toHaveLength(1);
  expect(setCookies[0]).toMatch(/^space\.signin=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/; Expires=[^;]+; HttpOnly; SameSite=Lax$/);
  const browserCookie = setCookies[0]!.split(';')[0]!;
  await redis.ping();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const atStart = commands.slice(startAt);
  expect(atStart.filter((c) => c.some((a) => a.includes(`${prefix}sess:`)))).toEqual([]);
  // Redis names the browser's set by a hash of the cookie's value, never the value.
  expect(atStart.flat().join(' ')).not.toContain(browserCookie.split('=')[1]);

  const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  const before = commands.length;
  const callback = await fetch(`${app.url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: browserCookie } });
  expect(callback.status).toBe(302);
  await redis.ping();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const sessionCommands = commands.slice(before).filter((c) => c.some((a) => a.includes(`${prefix}sess:`))).map((c) => c[0]!.toLowerCase());
  expect(sessionCommands).toEqual(['set']);
  // Its last pending sign-in done, the browser's sign-in cookie goes; the session cookie comes.
  const cookies = callback.headers.getSetCookie();
  expect(cookies.find((c) => c.startsWith('space.signin='))).toMatch(/^space\.signin=; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax$/);
  const sid = cookies.find((c) => c.startsWith('sid='))!.split(';')[0]!;
  expect(await keysUnder(redis, `${prefix}space:{p:`)).toEqual([]);
  const me = await fetch(`${app.url}/me`, { headers: { cookie: sid } });
  expect(me.status).toBe(200);
});

test('two tabs of one browser: the sign-in cookie stays while a sign-in is pending, and both complete', async () => {
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix });
  const agent = app.agent();
  const first = await agent.get('/auth/space');
  const second = await agent.get('/auth/space');
  // The second tab reuses the browser's cookie: one set holds both.
  expect(await keysUnder(redis, `${prefix}space:{p:`)).toHaveLength(1);
  const finish = async (start: typeof first) => {
    const approval = await fetch(new URL(start.headers.location as string), { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    return agent.get(back.pathname + back.search);
  };
  const done2 = await finish(second);
  expect(done2.status).toBe(302);
  expect(([] as string[]).concat(done2.headers['set-cookie'] ?? []).some((c) => c.startsWith('space.signin='))).toBe(false);
  const done1 = await finish(first);
  expect(done1.headers.location).toBe('/me');
  expect(([] as string[]).concat(done1.headers['set-cookie'] ?? []).find((c) => c.startsWith('space.signin='))).toMatch(/^space\.signin=;/);
  expect((await agent.get('/me')).status).toBe(200);
});

test('an app that stores every visitor\'s session (saveUninitialized): the blank session the browser sent is deleted at login', async () => {
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, saveUninitialized: true });
  const agent = app.agent();
  const visit = await agent.get('/me');
  const anonymousKey = app.sessionKeyFromCookie(visit.headers['set-cookie']);
  expect(anonymousKey).toBeDefined();
  expect(await redis.exists(anonymousKey!)).toBe(1);
  const { callback } = await signIn(agent);
  const signedInKey = app.sessionKeyFromCookie(callback.headers['set-cookie']);
  expect(signedInKey).toBeDefined();
  expect(signedInKey).not.toBe(anonymousKey);
  expect(await redis.exists(anonymousKey!)).toBe(0);
  expect((await agent.get('/me')).status).toBe(200);
});

test('a flood of forged callbacks without the sign-in cookie: each refused, no token request, nothing asked of Redis', async () => {
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix });
  const tokenRequests = space.requests.filter((r) => r.path === '/oauth/token').length;
  const before = commands.length;
  const random = () => Buffer.from(Array.from({ length: 32 }, () => Math.floor(Math.random() * 256))).toString('base64url');
  const statuses = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const query = i % 4 === 0 ? `code=${random()}` : `code=${random()}&state=${random()}`;
    const res = await fetch(`${app.url}/auth/space/callback?${query}`, { redirect: 'manual' });
    return `${res.status} ${res.headers.get('location')}`;
  }));
  // The test app sends refused callbacks to its failure page.
  expect(new Set(statuses)).toEqual(new Set(['302 /signin-failed']));
  await redis.ping();
  await new Promise((resolve) => setTimeout(resolve, 50));
  expect(space.requests.filter((r) => r.path === '/oauth/token').length).toBe(tokenRequests);
  // express-session stores the failure message of each (the test app asks for failureMessage):
  // MONITOR saw this stretch; the library asked Redis nothing in it.
  expect(commands.slice(before).some((c) => c.some((a) => a.includes(`${prefix}sess:`)))).toBe(true);
  expect(commands.slice(before).filter((c) => c.some((a) => a.includes(`${prefix}space:`)))).toEqual([]);
});
