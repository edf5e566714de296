/**
 * The emulator's authorization-code flow over real HTTP: /oauth/auth, the sign-in page,
 * /oauth/auth/approve, and the redirects back with a code or an error.
 */
import { createPublicKey, verify } from 'node:crypto';
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import {
  api, authorize, authorizeURL, authorizeWithPKCE, CALLBACK, CLIENT_ID, exchange, get, pkce, PROFILE, signIn, startsEmulatorPerTest,
} from '../../__tests__/helpers/emulator';

let space: SpaceEmulator;
const start = startsEmulatorPerTest((started) => { space = started; });

describe('auto-approved code flow', () => {
  test('S256 code flow yields tokens, and the token reads the profile with $fields', async () => {
    await start();
    const back = await authorize(space, { code_challenge: pkce().challenge, code_challenge_method: 'S256', state: 'abc' });
    expect(back.origin + back.pathname).toBe(CALLBACK);
    expect(back.searchParams.get('state')).toBe('abc');

    const { code, verifier } = await authorizeWithPKCE(space);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const answer = await exchange(space, code, verifier);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    expect(answer.json).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 600, scope: 'global:Profile.View' });

    const res = await api(space, `${PROFILE}?$fields=id,username,name(firstName,lastName),emails(email,verified)`, String(answer.json.access_token));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: '2asfen24Jx6u',
      username: 'john.doe',
      name: { firstName: 'John', lastName: 'Doe' },
      emails: [{ email: 'john.doe@example.com', verified: true }],
    });
  });

  test('access tokens are RS512 JWTs without kid, with Space\'s claims, verifiable with the JWKS', async () => {
    await start();
    const { access_token } = await signIn(space);
    const [h, p, s] = access_token.split('.') as [string, string, string];
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    expect(header).toEqual({ alg: 'RS512' });
    expect(claims).toMatchObject({
      sub: '2asfen24Jx6u', aud: CLIENT_ID, scope: 'global:Profile.View', iss: space.url,
      principal_type: 'USER', orgDomain: 'acme', name: 'john.doe',
    });
    expect(claims.exp - claims.iat).toBeGreaterThanOrEqual(600);

    const jwks = (await (await get(`${space.url}/oauth/jwks.json`)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS512', use: 'sig' });
    const key = createPublicKey({ key: jwks.keys[0] as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
    expect(verify('sha512', Buffer.from(`${h}.${p}`), key, Buffer.from(s, 'base64url'))).toBe(true);
  });

  test('setAutoApprove switches the user at run time and accepts a username or an id', async () => {
    await start();
    space.setAutoApprove('3bTgo35Ky7v');
    const { access_token } = await signIn(space);
    const me = (await (await api(space, `${PROFILE}?$fields=username`, access_token)).json()) as { username: string };
    expect(me.username).toBe('jane.roe');
    expect(() => space.setAutoApprove('nobody')).toThrow(TypeError);
  });

  test('a code_challenge_method that is absent means plain, as the Space docs say', async () => {
    await start();
    const verifier = pkce().verifier;
    const back = await authorize(space, { code_challenge: verifier });
    expect(space.requests.at(-1)?.warnings).toContain('code_challenge_method is absent: Space treats the challenge as plain');
    const answer = await exchange(space, back.searchParams.get('code')!, verifier);
    expect(answer.status).toBe(200);
  });
});

describe('sign-in page', () => {
  test('lists every user and the scope, posts to approve, and sends anti-framing and no-store headers', async () => {
    await start({ autoApprove: null });
    const res = await get(authorizeURL(space, { code_challenge: pkce().challenge, code_challenge_method: 'S256' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*form-action 'self' http:\/\/localhost:3000/);
    const html = await res.text();
    expect(html).toContain('Sign in to Acme Corp — Space emulator');
    expect(html).toContain('John Doe');
    expect(html).toContain('@jane.roe');
    expect(html).toContain('global:Profile.View');
    expect(html).toContain('action="/oauth/auth/approve"');
    expect(html).toMatch(/name="code_challenge_method" value="S256"/);
    expect(html).not.toMatch(/<script|src=|href=/i);
  });

  test('escapes every value: hostile user names, organization, scope and state', async () => {
    const evil = '<img src=x onerror=alert(1)>"\'&';
    await start({
      autoApprove: null,
      organization: { name: evil },
      users: [{ id: 'u1', username: evil, firstName: evil, lastName: 'X' }],
    });
    const html = await (await get(authorizeURL(space, { scope: `${evil} **`, state: evil, code_challenge: pkce().challenge, code_challenge_method: 'S256' }))).text();
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=alert(1)&#62;&#34;&#39;&#38;');
  });

  test('approving as a user redirects back with a code and the state', async () => {
    await start({ autoApprove: null });
    const { verifier, challenge } = pkce();
    const form = new URLSearchParams({
      response_type: 'code', client_id: CLIENT_ID, redirect_uri: CALLBACK, scope: 'global:Profile.View', state: 's1',
      code_challenge: challenge, code_challenge_method: 'S256', user: '3bTgo35Ky7v',
    });
    const res = await fetch(`${space.url}/oauth/auth/approve`, { method: 'POST', redirect: 'manual', body: form });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get('location')!);
    expect(back.searchParams.get('state')).toBe('s1');
    const answer = await exchange(space, back.searchParams.get('code')!, verifier);
    expect(JSON.parse(Buffer.from(String(answer.json.access_token).split('.')[1]!, 'base64url').toString()).sub).toBe('3bTgo35Ky7v');
  });

  test('Deny redirects back with access_denied, a description and the state', async () => {
    await start({ autoApprove: null });
    const form = new URLSearchParams({
      response_type: 'code', client_id: CLIENT_ID, redirect_uri: CALLBACK, scope: 'global:Profile.View', state: 's2',
      code_challenge: pkce().challenge, code_challenge_method: 'S256', deny: '1',
    });
    const res = await fetch(`${space.url}/oauth/auth/approve`, { method: 'POST', redirect: 'manual', body: form });
    const back = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(back.searchParams)).toEqual({ error: 'access_denied', error_description: expect.any(String), state: 's2' });
  });

  test('approve re-validates: a tampered redirect_uri gets the error page, not a redirect', async () => {
    await start({ autoApprove: null });
    const form = new URLSearchParams({
      response_type: 'code', client_id: CLIENT_ID, redirect_uri: 'https://evil.example/cb', scope: 'x', user: '2asfen24Jx6u',
    });
    const res = await fetch(`${space.url}/oauth/auth/approve`, { method: 'POST', redirect: 'manual', body: form });
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });
});

describe('authorization errors', () => {
  test('an unregistered redirect_uri gets a 400 page with unauthorized_client and no redirect', async () => {
    await start();
    for (const redirect_uri of ['https://evil.example/cb', undefined, 'http://localhost.evil.example/cb', 'http://user@localhost/cb']) {
      const res = await get(authorizeURL(space, { redirect_uri }));
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await res.text()).toContain('unauthorized_client');
    }
  });

  test('exact registered redirect URIs match exactly', async () => {
    await start({ clients: [{ clientID: 'c', clientSecret: 's', redirectURIs: ['https://app.example/cb'] }] });
    expect((await get(authorizeURL(space, { client_id: 'c', redirect_uri: 'https://app.example/cb' }))).status).toBe(302);
    expect((await get(authorizeURL(space, { client_id: 'c', redirect_uri: 'https://app.example/cb/' }))).status).toBe(400);
    expect((await get(authorizeURL(space, { client_id: 'c', redirect_uri: CALLBACK }))).status).toBe(400);
  });

  test('an unknown client_id gets a 400 page and no redirect', async () => {
    await start();
    const res = await get(authorizeURL(space, { client_id: 'nope' }));
    expect(res.status).toBe(400);
    expect(res.headers.get('location')).toBeNull();
  });

  test.each([
    { name: 'a response_type other than code', params: { response_type: 'token' }, error: 'unsupported_response_type' },
    { name: 'a missing scope', params: { scope: undefined }, error: 'invalid_scope' },
    { name: 'an unknown code_challenge_method', params: { code_challenge: pkce().challenge, code_challenge_method: 'S512' }, error: 'invalid_request' },
    { name: 'a malformed code_challenge', params: { code_challenge: 'short', code_challenge_method: 'S256' }, error: 'invalid_request' },
    { name: 'an unknown access_type', params: { access_type: 'forever' }, error: 'invalid_request' },
    { name: 'an unknown request_credentials', params: { request_credentials: 'never' }, error: 'invalid_request' },
  ])('$name redirects back with $error and the state', async ({ params, error }) => {
    await start();
    const back = await authorize(space, { ...params, state: 'keep-me' });
    expect(back.searchParams.get('error')).toBe(error);
    expect(back.searchParams.get('error_description')).toBeTruthy();
    expect(back.searchParams.get('state')).toBe('keep-me');
    expect(back.searchParams.has('code')).toBe(false);
  });

  test('a repeated parameter is invalid_request', async () => {
    await start();
    const res = await get(`${authorizeURL(space)}&scope=global:Profile.View`);
    expect(new URL(res.headers.get('location')!).searchParams.get('error')).toBe('invalid_request');
  });

  test('requirePKCE rejects an authorization request without code_challenge', async () => {
    await start({ requirePKCE: true });
    const back = await authorize(space);
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  test('every request_credentials value is accepted', async () => {
    await start();
    for (const value of ['default', 'required', 'skip', 'silent']) {
      expect((await authorize(space, { request_credentials: value, access_type: 'offline' })).searchParams.has('code')).toBe(true);
    }
  });

  test('a long or non URL-safe state is recorded as a warning', async () => {
    await start();
    await authorize(space, { state: 'a'.repeat(129) });
    await authorize(space, { state: 'a b/c' });
    await authorize(space, { state: undefined });
    const warnings = space.requests.map((r) => r.warnings);
    expect(warnings[0]).toContain('state is longer than 128 characters');
    expect(warnings[1]).toContain('state contains characters that are not URL-safe');
    expect(warnings[2]).toContain('state is missing');
  });

  test('bad percent-encoding in the query gets a 400 page, not a crash', async () => {
    await start();
    const res = await get(`${space.url}/oauth/auth?client_id=%E0%A4%A&redirect_uri=%`);
    expect(res.status).toBe(400);
  });
});
