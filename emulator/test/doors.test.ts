/**
 * The emulator's other doors over real HTTP: client credentials, RS512 tokens and key rotation,
 * permanent tokens, applications/me and public-keys, and requests sent to an app's endpoint.
 */
import { createHmac, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { api, basic, get, PROFILE, signIn, tokenRequest } from '../../__tests__/helpers/emulator';

const APP = { clientID: 'doors-app', clientSecret: 'doors-secret', redirectURIs: ['*'], name: 'Doors Bot' };
const PUBLIC = { clientID: 'doors-public', redirectURIs: ['*'] };
const APP_BASIC = basic(APP.clientID, APP.clientSecret);

let space: SpaceEmulator;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe', clients: [APP, PUBLIC, { clientID: 'space-emulator-client', clientSecret: 'space-emulator-secret', redirectURIs: ['*'] }] });
});
afterAll(() => space.close());

function parts(token: string): { header: Record<string, unknown>; claims: Record<string, unknown>; data: Buffer; sig: Buffer } {
  const [h, p, s] = token.split('.') as [string, string, string];
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    claims: JSON.parse(Buffer.from(p, 'base64url').toString()),
    data: Buffer.from(`${h}.${p}`),
    sig: Buffer.from(s, 'base64url'),
  };
}

async function jwks(): Promise<JsonWebKey[]> {
  return ((await (await get(`${space.url}/oauth/jwks.json`)).json()) as { keys: JsonWebKey[] }).keys;
}

function verifiesWith(token: string, keys: JsonWebKey[]): boolean {
  const { data, sig } = parts(token);
  return keys.some((k) => verify('sha512', data, createPublicKey({ key: k, format: 'jwk' }), sig));
}

async function clientCredentials(scope?: string): Promise<string> {
  const body: Record<string, string> = { grant_type: 'client_credentials' };
  if (scope) body.scope = scope;
  const answer = await tokenRequest(space, body, { auth: APP_BASIC });
  expect(answer.status).toBe(200);
  return answer.json.access_token as string;
}

describe('client credentials', () => {
  test('answers a Bearer token with expires_in and scope ** by default, and no refresh token', async () => {
    const answer = await tokenRequest(space, { grant_type: 'client_credentials' }, { auth: APP_BASIC });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ token_type: 'Bearer', expires_in: 600, access_token: expect.any(String), scope: '**' });
    const { header, claims } = parts(answer.json.access_token as string);
    expect(header).toEqual({ alg: 'RS512' });
    expect(claims).toMatchObject({ sub: APP.clientID, aud: APP.clientID, principal_type: 'SERVICE', orgDomain: 'acme', name: 'Doors Bot', iss: space.url });
    expect((claims.exp as number) - (claims.iat as number)).toBeGreaterThanOrEqual(600);
    expect(verifiesWith(answer.json.access_token as string, await jwks())).toBe(true);
  });

  test('keeps an asked scope', async () => {
    const answer = await tokenRequest(space, { grant_type: 'client_credentials', scope: 'global:Profile.View' }, { auth: APP_BASIC });
    expect(answer.json.scope).toBe('global:Profile.View');
  });

  test('refuses a wrong secret, a public client and credentials in the body', async () => {
    expect((await tokenRequest(space, { grant_type: 'client_credentials' }, { auth: basic(APP.clientID, 'wrong') })).status).toBe(401);
    const pub = await tokenRequest(space, { grant_type: 'client_credentials', client_id: PUBLIC.clientID }, { auth: null });
    expect(pub.json.error).toBe('unauthorized_client');
    const post = await tokenRequest(space, { grant_type: 'client_credentials', client_id: APP.clientID, client_secret: APP.clientSecret }, { auth: null });
    expect(post.json.error).toBe('invalid_client');
  });
});

describe('applications/me and profiles/me by principal', () => {
  test('an application token reads applications/me, and gets 404 not-found from profiles/me', async () => {
    const token = await clientCredentials();
    const me = await api(space, '/api/http/applications/me', token);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ id: expect.any(String), clientId: APP.clientID, name: 'Doors Bot' });
    const profile = await api(space, PROFILE, token);
    expect(profile.status).toBe(404);
    expect(((await profile.json()) as { error: string }).error).toBe('not-found');
  });

  test('a user token gets 404 not-found from applications/me', async () => {
    const { access_token } = await signIn(space);
    const res = await api(space, '/api/http/applications/me', access_token);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('not-found');
  });

  test('an expired client-credentials token gets "Access token has expired"', async () => {
    const token = await clientCredentials();
    space.expireAccessTokens();
    const res = await api(space, '/api/http/applications/me', token);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'authentication-required', error_description: 'Access token has expired' });
  });
});

describe('signing keys', () => {
  test('after rotateSigningKey new tokens use the new key; the old key stays listed until dropped', async () => {
    const before = await clientCredentials();
    const oldKeys = await jwks();
    expect(oldKeys).toHaveLength(1);
    await space.rotateSigningKey();
    const after = await clientCredentials();
    const keys = await jwks();
    expect(keys).toHaveLength(2);
    expect(verifiesWith(after, oldKeys)).toBe(false);
    expect(verifiesWith(after, keys)).toBe(true);
    expect((await api(space, '/api/http/applications/me', before)).status).toBe(200);

    space.dropOldSigningKeys();
    expect(await jwks()).toHaveLength(1);
    expect((await api(space, '/api/http/applications/me', before)).status).toBe(401);
    expect((await api(space, '/api/http/applications/me', after)).status).toBe(200);
  });
});

describe('permanent tokens', () => {
  test('a personal token has perm_token and no exp, reads the profile, and dies when revoked', async () => {
    const token = space.mintPersonalToken('jane.roe');
    const { header, claims } = parts(token);
    expect(header).toEqual({ alg: 'RS512' });
    expect(claims).toEqual({
      sub: '3bTgo35Ky7v', aud: 'circlet-web-ui', orgDomain: 'acme', name: 'jane.roe', iss: space.url,
      perm_token: expect.any(String), principal_type: 'USER', iat: expect.any(Number),
    });
    const me = await api(space, `${PROFILE}?$fields=username`, token);
    expect(await me.json()).toEqual({ username: 'jane.roe' });
    space.revokePermanentToken(token);
    const after = await api(space, PROFILE, token);
    expect(after.status).toBe(401);
    expect(((await after.json()) as { error: string }).error).toBe('authentication-required');
  });

  test('an application token with expiresIn has exp, reads applications/me, and dies when revoked', async () => {
    const token = space.mintApplicationToken(APP.clientID, { expiresIn: 3600 });
    const { claims } = parts(token);
    expect(claims).toMatchObject({ sub: APP.clientID, aud: APP.clientID, principal_type: 'SERVICE', perm_token: expect.any(String), name: 'Doors Bot' });
    expect((claims.exp as number) - (claims.iat as number)).toBeGreaterThanOrEqual(3600);
    expect((await api(space, '/api/http/applications/me', token)).status).toBe(200);
    space.revokePermanentToken(token);
    expect((await api(space, '/api/http/applications/me', token)).status).toBe(401);
  });

  test('revokeRefreshTokens leaves permanent tokens alone; bad input is a TypeError', async () => {
    const token = space.mintPersonalToken('john.doe');
    space.revokeRefreshTokens();
    expect((await api(space, PROFILE, token)).status).toBe(200);
    expect(() => space.mintPersonalToken('nobody')).toThrow(TypeError);
    expect(() => space.mintApplicationToken('nobody')).toThrow(TypeError);
    expect(() => space.revokePermanentToken('not.a.token')).toThrow(TypeError);
  });
});

describe('public keys of an application', () => {
  test('are a JSON string holding a JWKS, for me and for clientId:<id>, and rotate with overlap', async () => {
    const token = await clientCredentials();
    const mine = await api(space, '/api/http/applications/me/public-keys', token);
    expect(mine.status).toBe(200);
    const text = (await mine.json()) as unknown;
    expect(typeof text).toBe('string');
    const set = JSON.parse(text as string) as { keys: JsonWebKey[] };
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ kty: 'RSA' });
    // Not the access-token keys.
    expect(set.keys[0]!.n).not.toBe((await jwks())[0]!.n);
    const byId = JSON.parse((await (await api(space, `/api/http/applications/clientId:${APP.clientID}/public-keys`, token)).json()) as string);
    expect(byId).toEqual(set);
    await space.rotateAppPublicKey(APP.clientID);
    expect(JSON.parse((await (await api(space, '/api/http/applications/me/public-keys', token)).json()) as string).keys).toHaveLength(2);
    expect((await api(space, '/api/http/applications/me/public-keys')).status).toBe(401);
    expect((await api(space, '/api/http/applications/clientId:nobody/public-keys', token)).status).toBe(404);
  });
});

describe('sendToApp', () => {
  let server: Server;
  let url: string;
  const seen: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.setHeader('content-type', 'application/json');
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/space`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const payload = { className: 'ListCommandsPayload', clientId: APP.clientID, userId: '2asfen24Jx6u' };

  test('signs with the public key: base64 RSA SHA-512 over timestamp:body, verifiable with public-keys', async () => {
    const answer = await space.sendToApp(url, payload, { clientId: APP.clientID });
    expect(answer).toMatchObject({ status: 200, body: '{"ok":true}' });
    const got = seen.at(-1)!;
    expect(got.body).toBe(JSON.stringify(payload));
    const ts = got.headers['x-space-timestamp'] as string;
    expect(Math.abs(Number(ts) - Date.now())).toBeLessThan(60_000);
    const token = await clientCredentials();
    const keys = JSON.parse((await (await api(space, '/api/http/applications/me/public-keys', token)).json()) as string).keys as JsonWebKey[];
    const sig = Buffer.from(got.headers['x-space-public-key-signature'] as string, 'base64');
    const data = Buffer.from(`${ts}:${got.body}`);
    expect(keys.some((k) => verify('sha512', data, createPublicKey({ key: k, format: 'jwk' }), sig))).toBe(true);
  });

  test('signs with the signing key: lowercase hex HMAC-SHA256 over timestamp:body', async () => {
    await space.sendToApp(url, payload, { clientId: APP.clientID, method: 'signing-key', timestamp: 1632844347462 });
    const got = seen.at(-1)!;
    expect(got.headers['x-space-timestamp']).toBe('1632844347462');
    const expected = createHmac('sha256', space.signingKey(APP.clientID)).update(`1632844347462:${got.body}`).digest('hex');
    expect(got.headers['x-space-signature']).toBe(expected);
    expect(got.headers['x-space-signature']).toMatch(/^[0-9a-f]{64}$/);
  });

  test('puts the verification token in the body for the legacy method; unsigned sends none', async () => {
    await space.sendToApp(url, payload, { clientId: APP.clientID, method: 'verification-token' });
    expect(JSON.parse(seen.at(-1)!.body)).toEqual({ ...payload, verificationToken: space.verificationToken(APP.clientID) });
    await space.sendToApp(url, payload, { clientId: APP.clientID, unsigned: true });
    const got = seen.at(-1)!;
    expect(got.headers['x-space-public-key-signature']).toBeUndefined();
    expect(got.headers['x-space-signature']).toBeUndefined();
  });

  test('tamper spoils the body after signing, and sent shows what went out', async () => {
    const answer = await space.sendToApp(url, payload, { clientId: APP.clientID, method: 'signing-key', tamper: 'body' });
    const got = seen.at(-1)!;
    expect(JSON.parse(got.body)).toEqual({ ...payload, tampered: true });
    expect(answer.sent.body).toBe(got.body);
    const expected = createHmac('sha256', space.signingKey(APP.clientID)).update(`${got.headers['x-space-timestamp']}:${got.body}`).digest('hex');
    expect(got.headers['x-space-signature']).not.toBe(expected);
  });
});
