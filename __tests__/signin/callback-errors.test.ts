import { format } from 'node:util';
import createDebug from 'debug';
import type Redis from 'ioredis';
import express from 'express';
import passport from 'passport';
import request from 'supertest';
import { SpaceStrategy, type SpaceTokenEvent } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';
import { selfSignedCertificate } from '../helpers/tls';

const CLIENT = { clientID: 'errors-client', clientSecret: 'errors-secret-canary-91bd' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let app: TestApp;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
});

beforeEach(async () => {
  prefix = uniquePrefix('errors');
  space.clearFaults();
  space.resetRequests();
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, strategy: { timeout: 800 } });
});

afterEach(async () => {
  await app.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  await space.close();
  redis.disconnect();
});

type Agent = ReturnType<TestApp['agent']>;

/** Starts a sign-in and returns the callback path the emulator sends back (not yet followed). */
async function pendingCallback(agent: Agent): Promise<{ path: string; state: string; code: string }> {
  const start = await agent.get('/auth/space').expect(302);
  const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  return { path: back.pathname + back.search, state: back.searchParams.get('state')!, code: back.searchParams.get('code')! };
}

async function failureMessages(agent: Agent, response: request.Response): Promise<string[]> {
  expect(response.status).toBe(302);
  expect(response.headers.location).toBe('/signin-failed');
  return (await agent.get('/signin-failed').expect(401)).body.messages;
}

const tokenRequests = () => space.count('/oauth/token');

describe('callback state checks (before any token request)', () => {
  test('rejects a callback whose state belongs to another browser session', async () => {
    const attacker = app.agent();
    const victim = app.agent();
    const attackers = await pendingCallback(attacker);
    await victim.get('/auth/space').expect(302);
    const response = await victim.get(attackers.path);
    expect(await failureMessages(victim, response)).toEqual([expect.stringContaining('does not match a sign-in started in this browser')]);
    expect(tokenRequests()).toBe(0);
    await victim.get('/me').expect(401);
    // The attacker's own pending sign-in is untouched and still completes.
    expect((await attacker.get(attackers.path)).headers.location).toBe('/me');
  });

  test('rejects a callback without state, and with an empty state', async () => {
    const agent = app.agent();
    const { code } = await pendingCallback(agent);
    expect(await failureMessages(agent, await agent.get(`/auth/space/callback?code=${code}`))).toEqual([expect.stringContaining('has no state')]);
    expect(await failureMessages(agent, await agent.get(`/auth/space/callback?code=${code}&state=`))).toEqual([expect.stringContaining('has no state')]);
    expect(tokenRequests()).toBe(0);
  });

  test('rejects a replayed callback without a second token request', async () => {
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    expect((await agent.get(path)).headers.location).toBe('/me');
    expect(tokenRequests()).toBe(1);
    const replay = await agent.get(path);
    expect(await failureMessages(agent, replay)).toEqual([expect.stringContaining('does not match')]);
    const stranger = app.agent();
    expect(await failureMessages(stranger, await stranger.get(path))).toEqual([expect.stringContaining('does not match')]);
    expect(tokenRequests()).toBe(1);
  });

  test('rejects repeated parameters (code=a&code=b) without a token request', async () => {
    const agent = app.agent();
    const { state, code } = await pendingCallback(agent);
    const response = await agent.get(`/auth/space/callback?code=${code}&code=other&state=${state}`);
    expect(await failureMessages(agent, response)).toEqual([expect.stringContaining('"code" is repeated')]);
    expect(tokenRequests()).toBe(0);
  });

  test('treats access_denied with a valid state as a Passport failure with a fixed message', async () => {
    const agent = app.agent();
    const { state } = await pendingCallback(agent);
    const response = await agent.get(`/auth/space/callback?error=access_denied&error_description=${encodeURIComponent('Call 555-0100 <script>')}&state=${state}`);
    expect(await failureMessages(agent, response)).toEqual(['Sign-in was cancelled in Space']);
    expect(tokenRequests()).toBe(0);
  });

  test('ignores an error redirect whose state does not match (attacker-made link)', async () => {
    const agent = app.agent();
    await agent.get('/auth/space').expect(302);
    const response = await agent.get('/auth/space/callback?error=server_error&error_description=Your+account+is+locked');
    expect(await failureMessages(agent, response)).toEqual([expect.stringContaining('has no state')]);
  });

  test('reports another Space error with its error and description', async () => {
    const agent = app.agent();
    const { state } = await pendingCallback(agent);
    const response = await agent.get(`/auth/space/callback?error=invalid_scope&error_description=Scope+not+allowed&state=${state}`).expect(500);
    expect(response.body).toMatchObject({
      name: 'SpaceAuthorizationError', code: 'SPACE_AUTHORIZATION_FAILED', error: 'invalid_scope',
      errorDescription: 'Scope not allowed', message: 'Space refused the sign-in: invalid_scope: "Scope not allowed"',
    });
  });

  test('CR, LF and other control characters from the callback reach no error message, event or debug line, and the text is capped', async () => {
    const events: SpaceTokenEvent[] = [];
    const lines: string[] = [];
    const own = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, strategy: { timeout: 800, onEvent: (e) => events.push(e) } });
    const namespaces = createDebug.disable();
    const log = createDebug.log;
    createDebug.enable('passport-jetbrains-space:*');
    createDebug.log = (...args: unknown[]) => { lines.push(format(...args)); };
    try {
      const agent = own.agent();
      const { state } = await pendingCallback(agent);
      const error = 'server_error\r\n2026-01-01T00:00:00Z INFO admin signed in\u2028ok';
      const description = `one\r\ntwo\u0085three\u001b[31mred\u202Eevil\u0000${'x'.repeat(2000)}`;
      const response = await agent.get(`/auth/space/callback?${new URLSearchParams({ error, error_description: description, state })}`).expect(500);
      const refused = events.filter((e) => e.event === 'signin.refused');
      expect(refused).toHaveLength(1);
      const seen = [response.body.message, response.body.error, response.body.errorDescription, JSON.stringify(refused[0]), ...lines.filter((l) => l.includes('signin.refused'))];
      expect(lines.some((l) => l.includes('signin.refused'))).toBe(true);
      for (const text of seen) {
        expect(text).toEqual(expect.any(String));
        expect(text).not.toMatch(/[\r\n\u0000\u0085\u2028\u202E]|\u001b\[31m/);
      }
      expect(response.body.error).toBe('server_error 2026-01-01T00:00:00Z INFO admin signed in ok');
      expect(response.body.errorDescription.startsWith('one two three [31mred evil x')).toBe(true);
      expect(response.body.errorDescription.length).toBeLessThanOrEqual(301);
      expect(response.body.message.length).toBeLessThan(500);
    } finally {
      createDebug.log = log;
      createDebug.enable(namespaces);
      await own.close();
    }
  });

  test('a request without express-session is an error that says so', async () => {
    const bare = express();
    const authenticator = new passport.Passport();
    authenticator.use(new SpaceStrategy({ spaceURL: space.url, ...CLIENT, callbackURL: '/cb' }, (_a, _r, p, d) => d(null, p)));
    bare.get('/auth', authenticator.authenticate('space'));
    bare.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).send(err.message));
    const response = await request(bare).get('/auth').expect(500);
    expect(response.text).toContain('mount express-session');
  });
});

describe('token endpoint failures at sign-in', () => {
  async function failingCallback(): Promise<request.Response> {
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    return agent.get(path);
  }

  test('a 400 invalid_grant is a sign-in to retry (a Passport failure), naming the status, the error and the description', async () => {
    space.inject({ path: '/oauth/token', status: 400, body: { error: 'invalid_grant', error_description: 'Code was already redeemed' } });
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    const response = await agent.get(path);
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe('/signin-failed');
    const failed = await agent.get('/signin-failed').expect(401);
    expect(failed.body.messages).toEqual(['Sign-in did not complete: Space refused the code (400 invalid_grant: "Code was already redeemed"); start signing in again']);
  });

  test('a 401 invalid_client from a wrong secret says so, without the secret', async () => {
    await app.close();
    app = await startTestApp({ spaceURL: space.url, clientID: CLIENT.clientID, clientSecret: 'wrong-secret-canary', redis, prefix });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_REJECTED', status: 401, error: 'invalid_client' });
    expect(JSON.stringify(response.body)).not.toContain('wrong-secret-canary');
  });

  test('a 5xx with an HTML page is "unavailable" and never quotes the page', async () => {
    space.inject({ path: '/oauth/token', status: 502, headers: { 'content-type': 'text/html' }, body: '<html>gateway secret-internal-host</html>' });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_UNAVAILABLE', status: 502, error: null });
    expect(response.body.message).toBe(`Space token endpoint answered 502 with no error details (POST ${space.url}/oauth/token)`);
  });

  test('a hanging token endpoint times out with a message naming the timeout', async () => {
    space.inject({ path: '/oauth/token', hang: true });
    const started = Date.now();
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_TIMEOUT' });
    expect(response.body.message).toBe(`Space token endpoint did not answer within 800 ms (POST ${space.url}/oauth/token)`);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('a token endpoint that drips its answer one byte a second times out too (the timeout covers the body)', async () => {
    space.inject({ path: '/oauth/token', status: 200, body: { access_token: 'x'.repeat(50), token_type: 'Bearer', expires_in: 600 }, dripBytesPerSecond: 1 });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_TIMEOUT' });
  });

  test('a token endpoint that echoes the secrets we sent has them redacted', async () => {
    // Space never does this; a misconfigured proxy might. The message must not carry them.
    const agent = app.agent();
    const { path, code } = await pendingCallback(agent);
    space.inject({ path: '/oauth/token', status: 400, body: { error: 'invalid_request', error_description: `bad code ${code} for ${CLIENT.clientSecret}` } });
    const response = await agent.get(path);
    expect(response.body.errorDescription).toBe('bad code [redacted] for [redacted]');
    expect(JSON.stringify(response.body)).not.toContain(code);
  });

  test('line breaks, C1 controls and bidi overrides in the answer of Space become spaces in the error', async () => {
    space.inject({ path: '/oauth/token', status: 400, body: { error: 'invalid_request\u2028FAKE', error_description: 'a\u0085b\u2029c\u202Ed\u2066e' } });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', error: 'invalid_request FAKE', errorDescription: 'a b c d e' });
    expect(response.body.message).not.toMatch(/[\u0085\u2028\u2029\u202E\u2066]/);
  });

  test.each([
    ['no access_token', { token_type: 'Bearer', expires_in: 600 }, '"access_token" is missing'],
    ['an empty access_token', { access_token: '', token_type: 'Bearer' }, '"access_token" is missing'],
    ['an unknown token_type', { access_token: 'x', token_type: 'mac', expires_in: 600 }, '"token_type" is "mac", not Bearer'],
    ['a negative expires_in', { access_token: 'x', token_type: 'Bearer', expires_in: -1 }, '"expires_in" is not a non-negative number'],
    ['a JSON array', [], 'the body is not a JSON object'],
  ])('a 200 with %s is an invalid response', async (_name, body, problem) => {
    space.inject({ path: '/oauth/token', status: 200, body });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_INVALID_RESPONSE', status: 200 });
    expect(response.body.message).toContain(problem);
  });

  test('a 200 that is not JSON is an invalid response', async () => {
    space.inject({ path: '/oauth/token', status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ code: 'SPACE_INVALID_RESPONSE' });
    expect(response.body.message).toContain('a body that is not JSON');
  });

  test('a redirect from the token endpoint is an error, not a success', async () => {
    space.inject({ path: '/oauth/token', status: 302, headers: { location: '/login' }, body: '' });
    const response = await failingCallback();
    expect(response.body).toMatchObject({ code: 'SPACE_INVALID_RESPONSE', status: 302 });
  });

  test('the state is consumed even when the exchange fails, so the callback cannot be replayed', async () => {
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    space.inject({ path: '/oauth/token', status: 500, body: { error: 'server_error' }, times: 1 });
    await agent.get(path).expect(500);
    expect(await failureMessages(agent, await agent.get(path))).toEqual([expect.stringContaining('does not match')]);
    expect(tokenRequests()).toBe(1);
  });
});

describe('TLS', () => {
  test('a Space whose certificate is not trusted is unreachable: verification is never turned off', async () => {
    const tlsSpace = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', tls: selfSignedCertificate() });
    const tlsApp = await startTestApp({ spaceURL: tlsSpace.url, ...CLIENT, redis, prefix });
    try {
      const agent = tlsApp.agent();
      const start = await agent.get('/auth/space').expect(302);
      // The browser trusts nothing here either; build the callback Space would send.
      const authorize = new URL(start.headers.location as string);
      const response = await agent.get(`/auth/space/callback?code=any&state=${authorize.searchParams.get('state')}`).expect(500);
      expect(response.body).toMatchObject({ name: 'SpaceTokenError', code: 'SPACE_UNREACHABLE' });
      expect(response.body.message).toMatch(/^Could not reach Space token endpoint: (DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/);
      expect(tlsSpace.count('/oauth/token')).toBe(0);
    } finally {
      await tlsApp.close();
      await tlsSpace.close();
    }
  });
});

describe('profile failures at sign-in', () => {
  const PROFILE = '/api/http/team-directory/profiles/me';

  test('a 403 permission-denied is a SpaceApiError with Space\'s error', async () => {
    space.inject({ path: PROFILE, status: 403, body: { error: 'permission-denied', error_description: 'Missing Profile.View' } });
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    const response = await agent.get(path).expect(500);
    expect(response.body).toMatchObject({ name: 'SpaceApiError', code: 'SPACE_REJECTED', status: 403, error: 'permission-denied', errorDescription: 'Missing Profile.View' });
    await agent.get('/me').expect(401);
  });

  test('a profile without an id is an invalid response, and nobody is signed in', async () => {
    space.inject({ path: PROFILE, status: 200, body: { username: 'ghost' } });
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    const response = await agent.get(path).expect(500);
    expect(response.body).toMatchObject({ name: 'SpaceApiError', code: 'SPACE_INVALID_RESPONSE' });
    expect(response.body.message).toContain('"id" is missing');
    await agent.get('/me').expect(401);
  });

  test('a profile body over 1 MB is refused without being buffered whole', async () => {
    space.inject({ path: PROFILE, status: 200, headers: { 'content-type': 'application/json' }, body: `{"id":"x","about":"${'a'.repeat(2 * 1024 * 1024)}"}` });
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    const response = await agent.get(path).expect(500);
    expect(response.body).toMatchObject({ name: 'SpaceApiError', code: 'SPACE_INVALID_RESPONSE', status: 200 });
    expect(response.body.message).toContain('larger than 1048576 bytes');
  });

  test('a hanging profile API times out', async () => {
    space.inject({ path: PROFILE, hang: true });
    const agent = app.agent();
    const { path } = await pendingCallback(agent);
    const response = await agent.get(path).expect(500);
    expect(response.body).toMatchObject({ name: 'SpaceApiError', code: 'SPACE_TIMEOUT' });
  });
});
