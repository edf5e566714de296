import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp, type TestApp } from './helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from './helpers/redis';

const CLIENT = { clientID: 'writes-client', clientSecret: 'writes-secret-canary-91c2' };

let space: SpaceEmulator;
let redis: Redis;
let monitor: Awaited<ReturnType<Redis['monitor']>>;
let prefix: string;
let app: TestApp;
let commands: string[][] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
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
  await app.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  monitor.disconnect();
  await space.close();
  redis.disconnect();
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
