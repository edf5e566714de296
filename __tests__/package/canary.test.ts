import type Redis from 'ioredis';
import type { Response } from 'supertest';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import type { SpaceTokenEvent } from 'passport-jetbrains-space';
import { signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, uniquePrefix } from '../helpers/redis';

// SECURITY.md: every secret gets a greppable value, a whole run goes through
// success and failure paths, then logs, answers, outbound URLs, events and Redis key names
// are searched for them.
const CLIENT = { clientID: 'canary-client', clientSecret: 'CANARY-client-secret-5d1e7a' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let app: TestApp;
const output: string[] = [];
const answers: string[] = [];
const events: SpaceTokenEvent[] = [];
const restore: Array<() => void> = [];

function record(res: Response): Response {
  const headers = { ...res.headers };
  delete headers['set-cookie']; // the signed session id belongs there, and only there
  answers.push(JSON.stringify(headers), res.text ?? '');
  return res;
}

beforeAll(async () => {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      output.push(String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => { stream.write = original; });
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const spy = jest.spyOn(console, level).mockImplementation((...args: unknown[]) => { output.push(args.map(String).join(' ')); });
    restore.push(() => spy.mockRestore());
  }
  space = await startSpaceEmulator({
    port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2,
    rotateRefreshTokens: true, refreshTokenOnEveryExchange: true,
  });
  redis = await connectRedis();
  prefix = uniquePrefix('canary');
  app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix, strategy: { timeout: 500 }, logErrors: true,
    refresh: { retryDelay: 1000, onEvent: (e) => { events.push(e); console.log(JSON.stringify(e)); } },
  });
});

afterAll(async () => {
  restore.forEach((undo) => undo());
  await app.close();
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('no secret appears in logs, answers, events, outbound URLs or Redis key names', async () => {
  const agent = app.agent();
  const { start, callback } = await signIn(agent);
  record(start);
  record(callback);
  record(await agent.get('/me'));
  record(await agent.get('/api/me'));
  await sleep(1200);
  record(await agent.get('/api/token')); // renewal with rotation
  record(await agent.get('/api/me'));

  // Failure paths: a token endpoint that echoes what it got, a malformed answer, a timeout.
  for (const fault of [
    { status: 400, body: { error: 'invalid_request', error_description: `bad secret ${CLIENT.clientSecret}` } },
    { status: 200, body: { access_token: 'CANARY-at-in-bad-answer', expires_in: 'soon' } },
    { hang: true },
  ]) {
    const other = app.agent();
    const first = record(await other.get('/auth/space'));
    const approval = await fetch(first.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    space.inject({ path: '/oauth/token', times: 1, ...fault });
    record(await other.get(back.pathname + back.search));
  }
  space.clearFaults();
  space.inject({ path: '/oauth/token', grantType: 'refresh_token', times: 1, status: 500, body: { error: 'server_error', error_description: 'boom' } });
  await sleep(2200);
  record(await agent.get('/api/token').set('Accept', 'application/json'));
  space.clearFaults();
  space.revokeRefreshTokens();
  await sleep(2200);
  record(await agent.get('/api/token').set('Accept', 'application/json'));
  record(await agent.get('/page').set('Accept', 'text/html'));

  // Every secret that went over the wire, as the emulator saw it.
  const secrets = new Set<string>([CLIENT.clientSecret, Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64'), 'CANARY-at-in-bad-answer']);
  for (const r of space.requests) {
    for (const value of [r.body?.code, r.body?.code_verifier, r.body?.refresh_token, r.headers.authorization?.split(' ')[1]]) {
      if (value) secrets.add(value);
    }
  }
  expect(secrets.size).toBeGreaterThan(8);

  const outbound = space.requests.map((r) => `${r.path}?${new URLSearchParams(r.query).toString()}`);
  const keyNames = await keysUnder(redis, prefix);
  const haystacks = { logs: output.join('\n'), answers: answers.join('\n'), events: JSON.stringify(events), outbound: outbound.join('\n'), keyNames: keyNames.join('\n') };
  for (const secret of secrets) {
    for (const [where, text] of Object.entries(haystacks)) {
      if (text.includes(secret)) throw new Error(`a secret (${secret.slice(0, 6)}…) appears in ${where}`);
    }
  }
  // Token endpoint calls carry no query string at all.
  expect(space.requests.filter((r) => r.path === '/oauth/token').every((r) => Object.keys(r.query).length === 0)).toBe(true);
});
