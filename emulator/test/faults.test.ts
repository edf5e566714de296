/**
 * Fault injection and the request log: canned answers, delays, hangs, resets, drips, `times`,
 * matching by method and grant type, `count()`, and `close()` with hung requests open.
 */
import { createHash } from 'node:crypto';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, authorizeWithPKCE, exchange, PROFILE, refresh, signIn } from '../../__tests__/helpers/emulator';

let space: SpaceEmulator;
beforeEach(async () => {
  space = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe' });
});
afterEach(async () => {
  await space.close();
});

describe('canned answers', () => {
  test('status and an object body answer as JSON, without running the handler', async () => {
    const { code, verifier } = await authorizeWithPKCE(space);
    space.inject({ path: '/oauth/token', status: 429, headers: { 'Retry-After': '120' }, body: { error: 'rate-limited' } });
    const limited = await exchange(space, code, verifier);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('120');
    expect(limited.headers.get('content-type')).toMatch(/^application\/json/);
    expect(limited.json).toEqual({ error: 'rate-limited' });
    space.clearFaults();
    // The canned answer had no side effects: the code is still unused.
    expect((await exchange(space, code, verifier)).status).toBe(200);
  });

  test('a string body keeps the given content type', async () => {
    space.inject({ path: PROFILE, status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad gateway</h1>' });
    const res = await api(space, PROFILE);
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toBe('<h1>Bad gateway</h1>');
  });

  test('times limits a fault to that many requests', async () => {
    space.inject({ path: '/oauth/jwks.json', status: 503, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api(space, '/oauth/jwks.json')).status);
    expect(statuses).toEqual([503, 503, 200]);
  });

  test('faults match in order and by method and grant type', async () => {
    const tokens = await signIn(space, { access_type: 'offline' });
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', status: 400, body: { error: 'invalid_grant' } });
    space.inject({ path: '/oauth/token', method: 'GET', status: 418 });
    space.inject({ path: '/oauth/token', status: 500, body: { error: 'server_error' }, times: 1 });
    expect((await refresh(space, tokens.refresh_token!)).status).toBe(400);
    expect((await fetch(`${space.url}/oauth/token`)).status).toBe(418);
    expect((await signIn(space).catch((e: Error) => e.message))).toMatch(/500/);
    expect((await signIn(space)).access_token).toEqual(expect.any(String));
  });

  test('malformed faults are refused with a TypeError', () => {
    expect(() => space.inject({ path: 'oauth/token' })).toThrow(TypeError);
    expect(() => space.inject({ path: '/x', times: 0 })).toThrow(TypeError);
    expect(() => space.inject({ path: '/x', hang: true, reset: true })).toThrow(TypeError);
    expect(() => space.inject({ path: '/x', body: 'no status' })).toThrow(TypeError);
  });
});

describe('network faults', () => {
  test('delayMs delays the normal answer', async () => {
    space.inject({ path: '/oauth/jwks.json', delayMs: 300 });
    const started = Date.now();
    const res = await api(space, '/oauth/jwks.json');
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
  });

  test('hang never answers; the client times out; close() still ends promptly', async () => {
    space.inject({ path: PROFILE, hang: true });
    const attempt = fetch(`${space.url}${PROFILE}`, { signal: AbortSignal.timeout(300) });
    await expect(attempt).rejects.toMatchObject({ name: 'TimeoutError' });
    const pending = fetch(`${space.url}${PROFILE}`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await space.close();
    expect(Date.now() - started).toBeLessThan(1000);
    // fetch errors come from undici's realm, so match by shape rather than instanceof.
    expect(await pending).toMatchObject({ message: 'fetch failed' });
    expect(space.requests.at(-1)).toMatchObject({ path: PROFILE, status: undefined, faulted: true });
  });

  test('reset drops the connection without an answer', async () => {
    space.inject({ path: '/oauth/token', reset: true });
    await expect(fetch(`${space.url}/oauth/token`, { method: 'POST', body: 'a=b' })).rejects.toMatchObject({ message: 'fetch failed' });
    expect(space.requests.at(-1)).toMatchObject({ status: undefined, faulted: true });
  });

  test('dripBytesPerSecond sends headers at once and the body slowly', async () => {
    space.inject({ path: PROFILE, status: 200, body: '0123456789', dripBytesPerSecond: 20 });
    const started = Date.now();
    const res = await fetch(`${space.url}${PROFILE}`);
    expect(Date.now() - started).toBeLessThan(200);
    expect(await res.text()).toBe('0123456789');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  });

  test('a drip longer than the client\'s patience ends in a client timeout', async () => {
    space.inject({ path: PROFILE, status: 200, body: 'x'.repeat(100), dripBytesPerSecond: 10 });
    const signal = AbortSignal.timeout(300);
    await expect(fetch(`${space.url}${PROFILE}`, { signal }).then((r) => r.text())).rejects.toMatchObject({ name: 'TimeoutError' });
  });
});

describe('request log', () => {
  test('records method, path, query, headers, form body, status and faults in order', async () => {
    await signIn(space, { state: 'st' });
    space.inject({ path: PROFILE, status: 500, times: 1 });
    await api(space, `${PROFILE}?$fields=id`, 'tkn');
    const [auth, token, profile] = space.requests;
    expect(auth).toMatchObject({ method: 'GET', path: '/oauth/auth', status: 302, faulted: false });
    expect(auth?.query).toMatchObject({ state: 'st', response_type: 'code' });
    expect(token).toMatchObject({ method: 'POST', path: '/oauth/token', status: 200 });
    expect(token?.body).toMatchObject({ grant_type: 'authorization_code', code_verifier: expect.any(String) });
    expect(token?.headers.authorization).toMatch(/^Basic /);
    expect(profile).toMatchObject({ path: PROFILE, query: { $fields: 'id' }, status: 500, faulted: true });
    expect(profile?.time).toBeGreaterThanOrEqual(token!.time);
  });

  test('count() matches path and body or query fields; resetRequests() empties the log', async () => {
    const tokens = await signIn(space, { access_type: 'offline' });
    await refresh(space, tokens.refresh_token!);
    await refresh(space, tokens.refresh_token!);
    expect(space.count('/oauth/token')).toBe(3);
    expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBe(2);
    expect(space.count('/oauth/token', { refresh_token: tokens.refresh_token! })).toBe(2);
    expect(space.count('/oauth/auth', { access_type: 'offline' })).toBe(1);
    expect(space.count('/oauth/auth', { access_type: 'online' })).toBe(0);
    space.resetRequests();
    expect(space.requests).toEqual([]);
    expect(space.count('/oauth/token')).toBe(0);
  });

  test('a reused code_verifier is noted', async () => {
    const first = await authorizeWithPKCE(space);
    await exchange(space, first.code, first.verifier);
    const second = await authorizeWithPKCE(space, {
      code_challenge: createHash('sha256').update(first.verifier).digest('base64url'),
    });
    await exchange(space, second.code, first.verifier);
    expect(space.requests.at(-1)?.warnings).toContain('code_verifier was used before');
  });
});

test('close() is idempotent', async () => {
  await Promise.all([space.close(), space.close()]);
  await space.close();
});
