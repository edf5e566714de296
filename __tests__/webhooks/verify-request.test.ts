/**
 * verifySpaceRequest against requests the emulator sends to a real app endpoint over HTTP:
 * each method accepts a valid request and refuses tampered, stale, future and unsigned ones,
 * over the raw body bytes, whatever body parser is mounted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type RequestHandler } from 'express';
import { SpaceStrategy, spaceRawBody, verifySpaceRequest, type SpaceRequestMethod, type VerifySpaceRequestOptions } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator, type SpaceEmulatorSendMethod } from 'passport-jetbrains-space/emulator';

const APP = { clientID: 'endpoint-app', clientSecret: 'endpoint-secret', redirectURIs: ['*'], name: 'Endpoint Bot' };
const PAYLOAD = { className: 'ListCommandsPayload', clientId: APP.clientID, userId: '2asfen24Jx6u' };
const TOLERANCE = 2000;
const PUBLIC_KEYS = `/api/http/applications/clientId:${APP.clientID}/public-keys`;

let space: SpaceEmulator;
let strategy: SpaceStrategy;
const servers: http.Server[] = [];
let handled: unknown[] = [];
const rejections: string[] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [APP] });
  strategy = new SpaceStrategy({ spaceURL: space.url, clientID: APP.clientID, clientSecret: APP.clientSecret, callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => { s.closeAllConnections(); s.close(r); })));
  await space.close();
});
beforeEach(() => {
  handled = [];
  rejections.length = 0;
  space.clearFaults();
  space.resetRequests();
});

const handler: RequestHandler = (req, res) => {
  handled.push(req.spacePayload);
  res.json({ received: req.spacePayload, body: req.body });
};

async function listen(app: Express): Promise<string> {
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** One endpoint per method, each accepting only that method. */
async function endpoints(extra: Partial<VerifySpaceRequestOptions> = {}, before: RequestHandler[] = []): Promise<string> {
  const app = express();
  app.use(...(before.length ? before : [(_q: unknown, _s: unknown, n: () => void) => n()] as RequestHandler[]));
  const common = { strategy, signingKey: space.signingKey(APP.clientID), verificationToken: space.verificationToken(APP.clientID), tolerance: TOLERANCE, onReject: (r: string) => rejections.push(r), ...extra };
  for (const method of ['public-key', 'signing-key', 'verification-token'] as SpaceRequestMethod[]) {
    app.post(`/${method}`, verifySpaceRequest({ ...common, methods: [method] }), handler);
  }
  return listen(app);
}

let base: string;
beforeAll(async () => { base = await endpoints(); });

const send = (method: SpaceEmulatorSendMethod, options: Parameters<SpaceEmulator['sendToApp']>[2] = {}) =>
  space.sendToApp(`${base}/${method}`, PAYLOAD, { clientId: APP.clientID, method, ...options });

function expectRefused(answer: { status: number; body: string }): void {
  expect(answer.status).toBe(401);
  expect(JSON.parse(answer.body)).toEqual({ error: 'unauthorized' });
  expect(handled).toEqual([]);
}

describe.each(['public-key', 'signing-key', 'verification-token'] as SpaceEmulatorSendMethod[])('%s', (method) => {
  test('a valid request reaches the handler with the parsed payload', async () => {
    const answer = await send(method);
    expect(answer.status).toBe(200);
    const expected = method === 'verification-token' ? { ...PAYLOAD, verificationToken: space.verificationToken(APP.clientID) } : PAYLOAD;
    expect(JSON.parse(answer.body)).toEqual({ received: expected, body: expected });
    expect(handled).toHaveLength(1);
  });

  test('a body changed after signing is refused', async () => {
    if (method === 'verification-token') {
      // The legacy token signs nothing: a changed body with the token in it still passes; a wrong token does not.
      expectRefused(await send(method, { body: JSON.stringify({ ...PAYLOAD, verificationToken: 'f'.repeat(64) }) }));
      return;
    }
    expectRefused(await send(method, { tamper: 'body' }));
    expect(rejections[0]).toMatch(/does not match/);
  });

  test('an unsigned request is refused', async () => {
    expectRefused(await send(method, { unsigned: true }));
  });

  test('a replay after the tolerance window, and stale or future timestamps', async () => {
    const first = await send(method);
    expect(first.status).toBe(200);
    handled = [];
    await new Promise((r) => setTimeout(r, TOLERANCE + 300));
    const replay = await fetch(first.sent.url, { method: 'POST', headers: first.sent.headers, body: first.sent.body });
    const stale = await send(method, { timestamp: Date.now() - 10 * 60_000 });
    const future = await send(method, { timestamp: Date.now() + 10 * 60_000 });
    if (method === 'verification-token') {
      // Documented: the legacy method has no signed timestamp, so it cannot tell a replay (one reason it is deprecated).
      expect([replay.status, stale.status, future.status]).toEqual([200, 200, 200]);
      return;
    }
    expectRefused({ status: replay.status, body: await replay.text() });
    expectRefused(stale);
    expectRefused(future);
  });
});

describe('signatures', () => {
  test('a signature over another timestamp is refused', async () => {
    expectRefused(await send('signing-key', { tamper: 'timestamp' }));
    expectRefused(await send('public-key', { tamper: 'timestamp' }));
    expectRefused(await send('public-key', { tamper: 'signature' }));
  });

  test('one method on an endpoint that accepts another is refused', async () => {
    expectRefused(await space.sendToApp(`${base}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'public-key' }));
  });

  test('the public keys are read once with the app token and fetched again after a rotation', async () => {
    const url = await endpoints({ keysRefetchInterval: 0 });
    expect((await space.sendToApp(`${url}/public-key`, PAYLOAD, { clientId: APP.clientID })).status).toBe(200);
    expect((await space.sendToApp(`${url}/public-key`, PAYLOAD, { clientId: APP.clientID })).status).toBe(200);
    expect(space.count(PUBLIC_KEYS)).toBe(1);
    expect(space.count('/oauth/token', { grant_type: 'client_credentials' })).toBe(1);
    await space.rotateAppPublicKey(APP.clientID, { dropOld: true });
    expect((await space.sendToApp(`${url}/public-key`, PAYLOAD, { clientId: APP.clientID })).status).toBe(200);
    expect(space.count(PUBLIC_KEYS)).toBe(2);
  });

  test('tolerance 0 turns the timestamp check off', async () => {
    const url = await endpoints({ tolerance: 0 });
    const old = await space.sendToApp(`${url}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'signing-key', timestamp: 1632844347462 });
    expect(old.status).toBe(200);
  });

  test('Space unreachable for the public keys: 503, and the handler does not run', async () => {
    const url = await endpoints();
    space.inject({ path: PUBLIC_KEYS, status: 503, body: { error: 'unavailable' } });
    const answer = await space.sendToApp(`${url}/public-key`, PAYLOAD, { clientId: APP.clientID });
    expect(answer.status).toBe(503);
    expect(handled).toEqual([]);
  });
});

describe('forged requests while the public keys cannot be read', () => {
  test.each([
    ['a 503 with Retry-After', { path: undefined, status: 503, headers: { 'retry-after': '120' }, body: { error: 'unavailable' } }],
    ['the app token refused (invalid_client)', { path: '/oauth/token', status: 401, body: { error: 'invalid_client' } }],
  ])('%s: 50 forged requests cost Space one fetch, not 50', async (_name, fault) => {
    const url = await endpoints();
    space.inject({ ...fault, path: fault.path ?? PUBLIC_KEYS });
    const started = Date.now();
    const answers = [];
    for (let i = 0; i < 50; i++) answers.push(await space.sendToApp(`${url}/public-key`, PAYLOAD, { clientId: APP.clientID, tamper: 'signature' }));
    const elapsed = Date.now() - started;
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(handled).toEqual([]);
    const tries = fault.path ? space.count('/oauth/token', { grant_type: 'client_credentials' }) : space.count(PUBLIC_KEYS);
    if (fault.path) {
      // No Retry-After: pauses of 1 s, 2 s, 4 s...: at most one try per second, however loaded the machine.
      expect(tries).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000));
      expect(tries).toBeLessThan(10);
    } else {
      expect(tries).toBe(1); // Retry-After 120 s, capped at keysRefetchInterval (30 s): one try
    }
  });
});

describe('body parsers', () => {
  test('express.json() mounted first without the hook: 500 saying how to fix it, handler not run', async () => {
    const url = await endpoints({}, [express.json()]);
    const answer = await space.sendToApp(`${url}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'signing-key' });
    expect(answer.status).toBe(500);
    expect(JSON.parse(answer.body).error_description).toContain('express.json({ verify: spaceRawBody })');
    expect(handled).toEqual([]);
  });

  test('express.json({ verify: spaceRawBody }) mounted first: verified over the kept bytes', async () => {
    const url = await endpoints({}, [express.json({ verify: spaceRawBody })]);
    // Bytes that JSON.stringify(req.body) would not reproduce: spacing and an escaped character.
    const body = '{ "className": "ListCommandsPayload", "clientId": "endpoint-app", "note": "caf\\u00e9" }';
    const ok = await space.sendToApp(`${url}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'signing-key', body });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).received.note).toBe('café');
    handled = [];
    expectRefused(await space.sendToApp(`${url}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'signing-key', tamper: 'body' }));
  });

  test('app.use(spaceRawBody) by mistake: every request fails at once with a TypeError that names the right use, none hangs', async () => {
    const app = express();
    app.use(spaceRawBody as unknown as RequestHandler);
    app.post('/hook', handler);
    const errors: unknown[] = [];
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      errors.push(err);
      res.status(500).json({ message: (err as Error).message });
    });
    const url = await listen(app);
    // A hang would run into this generous limit; the answer comes at once.
    const answer = await fetch(`${url}/hook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(10_000) });
    expect(answer.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TypeError);
    expect(((await answer.json()) as { message: string }).message).toContain('app.use(express.json({ verify: spaceRawBody }))');
    expect(handled).toEqual([]);
  });

  test('express.raw() mounted first: verified over its Buffer', async () => {
    const url = await endpoints({}, [express.raw({ type: 'application/json' })]);
    expect((await space.sendToApp(`${url}/signing-key`, PAYLOAD, { clientId: APP.clientID, method: 'signing-key' })).status).toBe(200);
  });

  test('a body over maxBytes is refused with 413', async () => {
    const url = await endpoints({ maxBytes: 100 });
    const answer = await space.sendToApp(`${url}/signing-key`, { ...PAYLOAD, pad: 'x'.repeat(500) }, { clientId: APP.clientID, method: 'signing-key' });
    expect(answer.status).toBe(413);
    expect(handled).toEqual([]);
  });

  test('bad options are TypeErrors naming the option', () => {
    expect(() => verifySpaceRequest({})).toThrow(/"methods"/);
    expect(() => verifySpaceRequest({ signingKey: '' })).toThrow(/"signingKey"/);
    expect(() => verifySpaceRequest({ signingKey: 'k', methods: ['public-key'] })).toThrow(/"strategy"/);
    expect(() => verifySpaceRequest({ strategy, tolerance: -1 })).toThrow(/"tolerance"/);
  });
});
