/**
 * The audit trail (`onAudit`, and the `audit` channel): one event per security-relevant fact, in
 * the documented shape, in order, and never a token, a code or a session id. Against the emulator
 * over HTTP and a real Redis.
 */
import { createHmac } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type Redis from 'ioredis';
import { endSpaceSessionsOf, SpaceStrategy, type SpaceAuditEvent } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';
import { OPS_CLIENT, secretsSeenBy, SIGNING_KEY, startOpsApp, type OpsApp } from '../helpers/ops-app';

const TTL = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const GRANT = /^[A-Za-z0-9_-]{12}$/;

let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
let events: SpaceAuditEvent[];
let app: OpsApp;
let john: { id: string; username: string };

beforeAll(async () => {
  redis = await connectRedis();
  space = await startSpaceEmulator({ port: 0, clients: [OPS_CLIENT], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true });
  john = space.users.find((u) => u.username === 'john.doe')! as { id: string; username: string };
});

beforeEach(async () => {
  prefix = uniquePrefix('audit');
  events = [];
  app = await startOpsApp({ spaceURL: space.url, redis, prefix, strategy: { onAudit: (e) => events.push(e) } });
});

afterEach(async () => {
  await app.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  await space.close();
  redis.disconnect();
});

test('a sign-in, a renewal, a team refusal and a sign-out: three events, in order, in the documented shape', async () => {
  const agent = app.agent();
  const { callbackURL, callback } = await signIn(agent);
  await sleep(TTL * 500 + 150);
  await agent.get('/api/token').expect(200);
  expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(1); // renewed: not an audit fact
  await agent.get('/platform').set('Accept', 'application/json').expect(200);
  await agent.get('/marketing?tab=secret-looking-query').set('Accept', 'application/json').expect(403);
  await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);

  const member = { id: john.id, username: 'john.doe' };
  expect(events).toEqual([
    { type: 'signed_in', at: expect.stringMatching(ISO), outcome: 'success', member, browser: 'Firefox on Linux', grant: expect.stringMatching(GRANT) },
    { type: 'team_refused', at: expect.stringMatching(ISO), outcome: 'failure', member, browser: 'Firefox on Linux', reason: 'rules', path: '/marketing' },
    { type: 'signed_out', at: expect.stringMatching(ISO), outcome: 'success', member, browser: 'Firefox on Linux', grant: events[0]!.grant },
  ]);
  // Type, time and outcome lead every event; times never go back.
  for (const e of events) expect(Object.keys(e).slice(0, 3)).toEqual(['type', 'at', 'outcome']);
  expect([...events.map((e) => e.at)].sort()).toEqual(events.map((e) => e.at));

  const sid = decodeURIComponent(/^sid=s%3A([^.;]+)/.exec((callback.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!)![1]!);
  const said = JSON.stringify(events);
  for (const secret of [...secretsSeenBy(space), callbackURL.searchParams.get('code')!, sid]) expect(said).not.toContain(secret);
});

test('refusals: a forged callback, a bad bearer token, a forged request from Space; each also heard on the audit channel', async () => {
  const heard: unknown[] = [];
  const listen = (m: unknown) => heard.push(m);
  diagnostics.subscribe('passport-jetbrains-space:audit', listen);
  try {
    await app.agent().get('/auth/space/callback?state=x&code=stolen-code').expect(302);
    await app.agent().get('/api/bearer').set('Authorization', 'Bearer not.a.jwt').expect(401);
    const body = JSON.stringify({ className: 'ListCommandsPayload' });
    const timestamp = String(Date.now());
    const forged = createHmac('sha256', 'not-the-signing-key').update(`${timestamp}:${body}`).digest('hex');
    await app.agent().post('/space/endpoint').set('Content-Type', 'application/json')
      .set('X-Space-Timestamp', timestamp).set('X-Space-Signature', forged).send(body).expect(401);
    const genuine = createHmac('sha256', SIGNING_KEY).update(`${timestamp}:${body}`).digest('hex');
    await app.agent().post('/space/endpoint').set('Content-Type', 'application/json')
      .set('X-Space-Timestamp', timestamp).set('X-Space-Signature', genuine).send(body).expect(204);
  } finally {
    diagnostics.unsubscribe('passport-jetbrains-space:audit', listen);
  }
  expect(events).toEqual([
    { type: 'sign_in_refused', at: expect.stringMatching(ISO), outcome: 'failure', reason: 'state_malformed', browser: 'Firefox on Linux' },
    { type: 'bearer_refused', at: expect.stringMatching(ISO), outcome: 'failure', reason: 'The access token is malformed', browser: 'Firefox on Linux', path: '/api/bearer' },
    { type: 'webhook_refused', at: expect.stringMatching(ISO), outcome: 'failure', reason: 'signing-key signature does not match', path: '/space/endpoint' },
  ]);
  expect(heard).toEqual(events);
  expect(JSON.stringify(events)).not.toContain('stolen-code');
});

test('Space ends sign-ins: a renewal refused once for a burst of requests, and an API call told the grant was revoked', async () => {
  const renewing = app.agent();
  await signIn(renewing);
  const calling = app.agent();
  await signIn(calling);
  events = [];
  space.revokeRefreshTokens('john.doe');
  // The access token still works by our clock: the API call is what learns of the revocation.
  await calling.get('/api/me').set('Accept', 'application/json').expect(401);
  await sleep(TTL * 500 + 150);
  const burst = await Promise.all(Array.from({ length: 4 }, () => renewing.get('/api/token').set('Accept', 'application/json')));
  expect(burst.map((r) => r.status)).toEqual([401, 401, 401, 401]);
  expect(events).toEqual([
    { type: 'ended_by_space', at: expect.stringMatching(ISO), outcome: 'success', member: { id: john.id, username: 'john.doe' }, browser: 'Firefox on Linux', reason: 'revoked_in_space', grant: expect.stringMatching(GRANT) },
    { type: 'refresh_refused', at: expect.stringMatching(ISO), outcome: 'failure', reason: 'invalid_grant', grant: expect.stringMatching(GRANT), error: 'invalid_grant' },
  ]);
  expect(events[0]!.grant).not.toBe(events[1]!.grant);
});

test('ending sessions from elsewhere: a member\'s other sessions, and an operator ending all of them', async () => {
  const here = app.agent();
  await signIn(here);
  const there = app.agent();
  await signIn(there);
  events = [];
  await here.post('/sessions/end-all').expect(204);
  await there.get('/api/token').set('Accept', 'application/json').expect(401);
  expect(await endSpaceSessionsOf(john.id, { strategy: app.strategy })).toBe(1);
  expect(events).toEqual([
    { type: 'ended_everywhere', at: expect.stringMatching(ISO), outcome: 'success', member: { id: john.id, username: 'john.doe' }, browser: 'Firefox on Linux', reason: 'all_other_sessions', count: 1 },
    { type: 'ended_everywhere', at: expect.stringMatching(ISO), outcome: 'success', member: { id: john.id }, reason: 'operator', count: 1 },
  ]);
});

test('an onAudit that throws never breaks a request, and onAudit must be a function', async () => {
  await app.close();
  app = await startOpsApp({ spaceURL: space.url, redis, prefix, strategy: { onAudit: () => { throw new Error('logger down'); } } });
  const agent = app.agent();
  await signIn(agent);
  expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(true);
  await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);
  expect(() => new SpaceStrategy({ spaceURL: space.url, clientID: 'a', clientSecret: 'b', callbackURL: '/cb', onAudit: 'console' as never }, (_a, _r, p, done) => done(null, p)))
    .toThrow('SpaceStrategy option "onAudit" must be a function, got "console"');
});
