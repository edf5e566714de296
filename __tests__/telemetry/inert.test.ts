/**
 * An app without @opentelemetry/api (an optional peer) and without channel subscribers: the library
 * tries to load it once, then every traced operation is the bare call (the same promise, one shared
 * inert handle, no span, no message), and signing in, renewing and signing out work as ever.
 */
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';
import { OPS_CLIENT, startOpsApp } from '../helpers/ops-app';
import { countUnavailable, joinRenewal, observeEvents, traced, trackRenewal, type Operation } from '../../lib/telemetry';

let mockTried = 0;
// What an app that never installed the package meets: requiring it throws.
jest.mock('@opentelemetry/api', () => {
  mockTried += 1;
  throw Object.assign(new Error("Cannot find module '@opentelemetry/api'"), { code: 'MODULE_NOT_FOUND' });
});

test('an operation is the bare call: the same promise, one shared inert handle, the package asked for once', async () => {
  const handles: Operation[] = [];
  const work = Promise.resolve('done');
  const run = (op: Operation) => {
    handles.push(op);
    op.set('space.outcome', 'ignored');
    return work;
  };
  expect(traced('renewal', run)).toBe(work);
  expect(traced('space.api', run, undefined, true)).toBe(work);
  expect(handles[0]).toBe(handles[1]);
  expect(handles[0]!.on).toBe(false);
  expect(Object.isFrozen(handles[0])).toBe(true);
  expect(trackRenewal(work)).toBe(work);
  expect(() => joinRenewal(work)).not.toThrow();
  expect(() => countUnavailable('redis')).not.toThrow();
  const events: unknown[] = [];
  observeEvents((e) => events.push(e))({ event: 'signin.completed' });
  expect(events).toEqual([{ event: 'signin.completed' }]);
  // A throw inside is a rejection, as from an async function.
  await expect(traced('signout', () => { throw new Error('boom'); })).rejects.toThrow('boom');
  expect(mockTried).toBe(1);
});

describe('a whole session', () => {
  let redis: Redis;
  let space: SpaceEmulator;
  let prefix: string;
  beforeAll(async () => {
    redis = await connectRedis();
    space = await startSpaceEmulator({ port: 0, clients: [OPS_CLIENT], autoApprove: 'john.doe', accessTokenTTL: 2 });
    prefix = uniquePrefix('inert');
  });
  afterAll(async () => {
    await space.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  });

  test('signs in, renews, is refused by a team rule and signs out, with nobody observing', async () => {
    const audits: unknown[] = [];
    const app = await startOpsApp({ spaceURL: space.url, redis, prefix, strategy: { onAudit: (e) => audits.push(e) } });
    try {
      const agent = app.agent();
      await signIn(agent);
      const first = (await agent.get('/api/token').expect(200)).body.token;
      await new Promise((r) => setTimeout(r, 1150));
      expect((await agent.get('/api/token').expect(200)).body.token).not.toBe(first);
      await agent.get('/marketing').set('Accept', 'application/json').expect(403);
      await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);
      expect((await agent.get('/api/token').expect(200)).body.signedIn).toBe(false);
      // The audit trail needs no OpenTelemetry.
      expect(audits.map((e) => (e as { type: string }).type)).toEqual(['signed_in', 'team_refused', 'signed_out']);
      expect(mockTried).toBe(1);
    } finally {
      await app.close();
    }
  });
});
