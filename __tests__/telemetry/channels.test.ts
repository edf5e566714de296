/**
 * node:diagnostics_channel, as an APM or a test subscribes to it: each traced operation on its
 * tracing channel (start, asyncEnd with its final attributes, error), and the `audit`, `event` and
 * `unavailable` channels. No OpenTelemetry SDK is registered here.
 */
import diagnostics from 'node:diagnostics_channel';
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';
import { OPS_CLIENT, secretsSeenBy, startOpsApp, type OpsApp } from '../helpers/ops-app';

const TTL = 2;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Heard { channel: string; message: Record<string, unknown> }
let heard: Heard[] = [];
const OPERATIONS = ['signin.start', 'signin.callback', 'signin.exchange', 'signin.profile', 'renewal', 'signout', 'revoke', 'space.token', 'space.api'];
const PLAIN = ['audit', 'event', 'unavailable'];
// Copies, so that what a subscriber saw at `start` is not changed by what the operation adds later.
const copy = (message: unknown) => JSON.parse(JSON.stringify(message, (k, v) => (k === 'error' && v instanceof Error ? { name: v.name, code: (v as { code?: string }).code } : v))) as Record<string, unknown>;
const handlers = OPERATIONS.map((op) => {
  const channel = diagnostics.tracingChannel(`passport-jetbrains-space:${op}`);
  const h = {
    start: (m: unknown) => heard.push({ channel: `${op}:start`, message: copy(m) }),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: (m: unknown) => heard.push({ channel: `${op}:asyncEnd`, message: copy(m) }),
    error: (m: unknown) => heard.push({ channel: `${op}:error`, message: copy(m) }),
  };
  return { channel, h };
});
const plain = PLAIN.map((name) => ({ name: `passport-jetbrains-space:${name}`, h: (m: unknown) => heard.push({ channel: name, message: copy(m) }) }));

let redis: Redis;
let space: SpaceEmulator;
let prefix: string;
let app: OpsApp;

beforeAll(async () => {
  for (const { channel, h } of handlers) channel.subscribe(h);
  for (const { name, h } of plain) diagnostics.subscribe(name, h);
  redis = await connectRedis();
  space = await startSpaceEmulator({ port: 0, clients: [OPS_CLIENT], autoApprove: 'john.doe', accessTokenTTL: TTL, refreshTokenOnEveryExchange: true });
  prefix = uniquePrefix('channels');
  app = await startOpsApp({ spaceURL: space.url, redis, prefix });
});

afterAll(async () => {
  for (const { channel, h } of handlers) channel.unsubscribe(h);
  for (const { name, h } of plain) diagnostics.unsubscribe(name, h);
  await app.close();
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

beforeEach(() => { heard = []; });

const on = (channel: string) => heard.filter((h) => h.channel === channel).map((h) => h.message);

test('subscribers hear each operation start and end, with its attributes and never its result', async () => {
  const agent = app.agent();
  const { callbackURL } = await signIn(agent);
  await sleep(TTL * 500 + 150);
  await agent.get('/api/token').expect(200);
  await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);

  expect(on('signin.start:start')).toEqual([{ operation: 'signin.start', attributes: {} }]);
  expect(on('signin.start:asyncEnd')).toEqual([{ operation: 'signin.start', attributes: { 'space.outcome': 'redirected' } }]);
  const callback = on('signin.callback:asyncEnd');
  expect(callback).toEqual([{ operation: 'signin.callback', attributes: { 'space.outcome': 'accepted', 'space.grant': expect.stringMatching(/^[A-Za-z0-9_-]{12}$/) } }]);
  expect(on('renewal:asyncEnd')).toEqual([{ operation: 'renewal', attributes: { 'space.grant': (callback[0]!.attributes as Record<string, string>)['space.grant'], 'space.outcome': 'refreshed' } }]);
  expect(on('space.token:asyncEnd').map((m) => (m.attributes as Record<string, unknown>)['space.grant_type'])).toEqual(['authorization_code', 'refresh_token']);
  expect(on('signout:asyncEnd')).toHaveLength(1);
  expect(on('revoke:asyncEnd')).toHaveLength(1);
  // The order of one sign-in: started, code exchanged, profile read, callback done.
  const order = heard.filter((h) => h.channel.endsWith(':asyncEnd')).map((h) => h.channel.replace(':asyncEnd', ''));
  expect(order.slice(0, 6)).toEqual(['signin.start', 'space.token', 'signin.exchange', 'space.api', 'signin.profile', 'signin.callback']);
  // What renewal and sign-in resolve to holds tokens: it is never in a message.
  for (const h of heard) expect(h.message).not.toHaveProperty('result');
  const said = JSON.stringify(heard);
  for (const secret of [...secretsSeenBy(space), callbackURL.searchParams.get('code')!]) expect(said).not.toContain(secret);

  expect(on('event').map((e) => e.event)).toEqual(expect.arrayContaining(['signin.started', 'signin.completed', 'token.refreshed', 'session.ended', 'signout']));
  expect(on('audit').map((e) => e.type)).toEqual(['signed_in', 'signed_out']);
});

test('a failed operation is heard on its error channel with the error, and a 503 on the unavailable channel', async () => {
  const agent = app.agent();
  await signIn(agent);
  await sleep(TTL * 1000 + 150);
  space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 503, times: 1 });
  heard = [];
  await agent.get('/api/token').set('Accept', 'application/json').expect(503);
  expect(on('space.token:error')).toEqual([{
    operation: 'space.token',
    attributes: { 'space.grant_type': 'refresh_token', 'http.response.status_code': 503, 'error.type': 'SPACE_UNAVAILABLE' },
    error: { name: 'SpaceTokenError', code: 'SPACE_UNAVAILABLE' },
  }]);
  expect(on('renewal:asyncEnd')).toEqual([{ operation: 'renewal', attributes: { 'space.grant': expect.any(String), 'space.outcome': 'unavailable', 'space.reason': 'SPACE_UNAVAILABLE' } }]);
  expect(on('unavailable')).toEqual([{ cause: 'space', status: 503 }]);
});
