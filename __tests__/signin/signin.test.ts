import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn, startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, sessionTokens, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'signin-client', clientSecret: 'signin-secret-canary-7f3a' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let app: TestApp;

beforeAll(async () => {
  space = await startSpaceEmulator({
    port: 0,
    clients: [{ ...CLIENT, redirectURIs: ['*'] }],
    autoApprove: 'john.doe',
    refreshTokenOnEveryExchange: true,
  });
  redis = await connectRedis();
});

beforeEach(async () => {
  prefix = uniquePrefix('signin');
  space.resetRequests();
  app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix });
});

afterEach(async () => {
  await app.close();
  await deleteKeys(redis, prefix);
});

afterAll(async () => {
  await space.close();
  redis.disconnect();
});

async function sessionValue(key: string): Promise<Record<string, any>> {
  const raw = await redis.get(key);
  if (!raw) throw new Error(`no session at ${key}`);
  return JSON.parse(raw);
}

describe('sign in with Space, end to end', () => {
  test('redirects to /oauth/auth with code, state, PKCE S256, offline access and the callback URL', async () => {
    const start = await app.agent().get('/auth/space').expect(302);
    const url = new URL(start.headers.location as string);
    expect(url.origin + url.pathname).toBe(`${space.url}/oauth/auth`);
    const p = url.searchParams;
    expect(p.get('response_type')).toBe('code');
    expect(p.get('client_id')).toBe(CLIENT.clientID);
    expect(p.get('redirect_uri')).toBe(`${app.url}/auth/space/callback`);
    expect(p.get('scope')).toBe('global:Profile.View');
    expect(p.get('access_type')).toBe('offline');
    expect(p.get('code_challenge_method')).toBe('S256');
    expect(p.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.get('state')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.has('request_credentials')).toBe(false);
    expect(p.has('code_verifier')).toBe(false);
    expect(p.has('client_secret')).toBe(false);
  });

  test('signs the user in, keeps the tokens in Redis (the session names the sign-in) and only the session id in the cookie', async () => {
    const agent = app.agent();
    const { callback } = await signIn(agent);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/me');
    expect(callback.headers['cache-control']).toBe('no-store');
    expect(callback.headers['referrer-policy']).toBe('no-referrer');

    const setCookie = callback.headers['set-cookie'] as unknown as string[];
    const key = app.sessionKeyFromCookie(setCookie);
    expect(key).toBeDefined();
    const stored = await sessionValue(key!);
    // The session holds which sign-in it is, no token: the tokens are in the sign-in's record.
    expect(Object.keys(stored.space.tokens).sort()).toEqual(['expiresAt', 'grant', 'issuedAt', 'version']);
    const tokens = (await sessionTokens(redis, key!))!;
    expect(tokens.grant).toBe(stored.space.tokens.grant);
    expect(tokens.accessToken).toEqual(expect.any(String));
    expect(tokens.refreshToken).toEqual(expect.any(String));
    expect(tokens.tokenType).toBe('Bearer');
    expect(tokens.scope).toContain('global:Profile.View');
    expect(tokens.expiresAt).toBeGreaterThan(Date.now() + 500_000);
    expect(tokens.expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);
    expect(stored.space.pending).toBeUndefined();
    expect(stored.passport.user).toEqual({ id: expect.any(String), username: 'john.doe', displayName: 'John Doe' });

    // The cookie is the signed session id and nothing else.
    const cookie = setCookie.find((c) => c.startsWith('sid='))!;
    expect(cookie).toMatch(/^sid=s%3A[A-Za-z0-9_-]+\.[A-Za-z0-9%+/=_-]+; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(cookie).not.toContain(tokens.accessToken.slice(0, 20));
    expect(cookie).not.toContain(tokens.refreshToken);

    // The next request reads them back from Redis.
    const me = await agent.get('/me').expect(200);
    expect(me.body.user.displayName).toBe('John Doe');
    expect(me.body.tokens).toEqual({ expiresAt: tokens.expiresAt, scope: tokens.scope, hasRefreshToken: false, tokenType: 'Bearer' }); // the refresh token stays in the member's consent
    expect(JSON.stringify(me.body)).not.toContain(tokens.accessToken);
  });

  test('authenticates to the token endpoint with HTTP Basic only and sends the PKCE verifier', async () => {
    await signIn(app.agent());
    const tokenCalls = space.requests.filter((r) => r.path === '/oauth/token');
    expect(tokenCalls).toHaveLength(1);
    const call = tokenCalls[0]!;
    const expected = `Basic ${Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64')}`;
    expect(call.headers.authorization).toBe(expected);
    expect(call.body).toMatchObject({ grant_type: 'authorization_code', redirect_uri: `${app.url}/auth/space/callback` });
    expect(call.body?.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(call.body).not.toHaveProperty('client_secret');
    expect(call.body).not.toHaveProperty('client_id');
    expect(Object.keys(call.query ?? {})).toHaveLength(0);
  });

  test('fetches the profile with a bearer header and an explicit $fields', async () => {
    await signIn(app.agent());
    const profileCalls = space.requests.filter((r) => r.path === '/api/http/team-directory/profiles/me');
    expect(profileCalls).toHaveLength(1);
    expect(profileCalls[0]!.headers.authorization).toMatch(/^Bearer \S+$/);
    expect(profileCalls[0]!.query).toEqual({ $fields: 'id,username,name(firstName,lastName),emails(email,verified),avatar,smallAvatar,profilePicture' });
  });

  test('gives a new session id at login, drops the anonymous session, and the tokens survive the regeneration', async () => {
    const agent = app.agent();
    // A visitor whose session was stored before the sign-in (the app wrote something in it).
    const visit = await agent.get('/visit').expect(204);
    const anonymousKey = app.sessionKeyFromCookie(visit.headers['set-cookie'] as unknown as string[]);
    expect(anonymousKey).toBeDefined();
    expect(await redis.exists(anonymousKey!)).toBe(1);

    const start = await agent.get('/auth/space');
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await agent.get(back.pathname + back.search).expect(302);
    const signedInKey = app.sessionKeyFromCookie(callback.headers['set-cookie'] as unknown as string[]);
    expect(signedInKey).toBeDefined();
    expect(signedInKey).not.toBe(anonymousKey);
    expect(await redis.exists(anonymousKey!)).toBe(0);
    expect((await sessionTokens(redis, signedInKey!))!.accessToken).toEqual(expect.any(String));
  });

  test('signing out removes the tokens from Redis', async () => {
    const agent = app.agent();
    const { callback } = await signIn(agent);
    const key = app.sessionKeyFromCookie(callback.headers['set-cookie'] as unknown as string[])!;
    const { accessToken, refreshToken } = (await sessionTokens(redis, key))!;

    await agent.post('/logout').expect(204);
    expect(await redis.exists(key)).toBe(0);
    for (const k of await keysUnder(redis, prefix)) {
      // A plain req.logout() does not tell the library: the sign-in's record stays until it
      // expires with the session (spaceSignOut marks it ended instead; see sessions.test.ts).
      if (k.endsWith(':tokens')) {
        expect(await redis.pttl(k)).toBeLessThanOrEqual(86_400_000);
        continue;
      }
      const type = await redis.type(k);
      const value = type === 'hash' ? JSON.stringify(await redis.hgetall(k))
        : type === 'zset' ? JSON.stringify(await redis.zrange(k, 0, -1)) : (await redis.get(k)) ?? '';
      expect(value).not.toContain(accessToken);
      expect(value).not.toContain(refreshToken);
    }
    await agent.get('/me').expect(401);
  });

  test('maps the Space profile to a normalized Passport profile', async () => {
    let seen: any;
    await app.close();
    app = await startTestApp({
      spaceURL: space.url, ...CLIENT, redis, prefix,
      verify: (_at, _rt, profile, done) => { seen = profile; done(null, { id: profile.id }); },
    });
    await signIn(app.agent());
    const john = space.users.find((u) => u.username === 'john.doe')!;
    expect(seen).toMatchObject({
      provider: 'space',
      id: john.id,
      username: 'john.doe',
      displayName: `${john.firstName} ${john.lastName}`,
      name: { givenName: john.firstName, familyName: john.lastName },
    });
    expect(seen.emails).toEqual((john.emails ?? []).map((e) => ({ value: e.email, verified: e.verified === true })));
    expect(seen.photos.length).toBeGreaterThan(0);
    for (const photo of seen.photos) expect(photo.value).toMatch(new RegExp(`^${space.url}/d/[A-Za-z0-9_-]+$`));
    expect(JSON.parse(seen._raw)).toEqual(seen._json);
  });

  test.each([
    ['(accessToken, refreshToken, profile, done)', false, 4],
    ['(accessToken, refreshToken, params, profile, done)', false, 5],
    ['(req, accessToken, refreshToken, profile, done)', true, 5],
    ['(req, accessToken, refreshToken, params, profile, done)', true, 6],
  ])('calls a verify callback of shape %s', async (_shape, passReq, arity) => {
    const calls: unknown[][] = [];
    const record = (...args: unknown[]) => {
      calls.push(args);
      const done = args[args.length - 1] as (e: null, u: object) => void;
      const profile = args[args.length - 2] as { id: string };
      done(null, { id: profile.id });
    };
    const verify = {
      4: (a: unknown, b: unknown, c: unknown, d: unknown) => record(a, b, c, d),
      5: (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown) => record(a, b, c, d, e),
      6: (a: unknown, b: unknown, c: unknown, d: unknown, e: unknown, f: unknown) => record(a, b, c, d, e, f),
    }[arity]!;
    await app.close();
    app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, verify: verify as never, strategy: { passReqToCallback: passReq } as never });
    const { callback } = await signIn(app.agent());
    expect(callback.status).toBe(302);
    expect(calls).toHaveLength(1);
    const args = calls[0]!;
    expect(args).toHaveLength(arity);
    const offset = passReq ? 1 : 0;
    if (passReq) expect(args[0]).toHaveProperty('session');
    expect(typeof args[offset]).toBe('string');
    expect(typeof args[offset + 1]).toBe('string');
    if (arity - offset === 5) expect(args[offset + 2]).toMatchObject({ access_token: args[offset], expires_in: expect.anything() });
    expect(args[arity - 2]).toMatchObject({ provider: 'space' });
  });

  test('a verify callback that refuses the user is a Passport failure', async () => {
    await app.close();
    app = await startTestApp({ spaceURL: space.url, ...CLIENT, redis, prefix, verify: (_a, _r, _p, done) => done(null, false, { message: 'not on the allow-list' }) });
    const agent = app.agent();
    const { callback } = await signIn(agent);
    expect(callback.headers.location).toBe('/signin-failed');
    const failed = await agent.get('/signin-failed').expect(401);
    expect(failed.body.messages).toEqual(['not on the allow-list']);
    await agent.get('/me').expect(401);
  });

  test('completes two sign-ins started in parallel in one session, in either order', async () => {
    const agent = app.agent();
    const first = await agent.get('/auth/space').expect(302);
    const second = await agent.get('/auth/space').expect(302);
    const backFrom = async (location: string) => {
      const approval = await fetch(location, { redirect: 'manual' });
      const u = new URL(approval.headers.get('location')!);
      return u.pathname + u.search;
    };
    const firstCallback = await backFrom(first.headers.location as string);
    const secondCallback = await backFrom(second.headers.location as string);
    expect((await agent.get(secondCallback)).headers.location).toBe('/me');
    expect((await agent.get(firstCallback)).headers.location).toBe('/me');
  });

  test('keeps the session bounded when one browser starts sign-in over and over', async () => {
    const agent = app.agent();
    let last: Awaited<ReturnType<typeof agent.get>> | undefined;
    for (let i = 0; i < 200; i++) last = await agent.get('/auth/space').expect(302);
    // Pending sign-ins live in their own set per browser, written before each redirect; no
    // session is stored for them.
    expect(await keysUnder(redis, `${prefix}sess:`)).toEqual([]);
    const sets = await keysUnder(redis, `${prefix}space:{p:`);
    expect(sets).toHaveLength(1);
    expect(await redis.hlen(sets[0]!)).toBe(10);
    expect(await redis.pttl(sets[0]!)).toBeLessThanOrEqual(10 * 60_000);
    expect(await redis.memory('USAGE', sets[0]!)).toBeLessThan(8192);
    // The newest one still completes.
    const approval = await fetch(last!.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    expect((await agent.get(back.pathname + back.search)).headers.location).toBe('/me');
  });

  test('remembers a safe returnTo from the start route and ignores an unsafe one', async () => {
    const agent = app.agent();
    const start = await agent.get('/auth/space?returnTo=%2Freports%3Fyear%3D2026');
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    await agent.get(back.pathname + back.search).expect(302);
    const key = (await keysUnder(redis, `${prefix}sess:`))[0]!;
    expect((await sessionValue(key)).returnTo).toBe('/reports?year=2026');

    const other = app.agent();
    const evil = await other.get('/auth/space?returnTo=%2F%2Fevil.example');
    expect(evil.status).toBe(302);
    const sets = await keysUnder(redis, `${prefix}space:{p:`);
    expect(sets).toHaveLength(1);
    const pending = Object.values(await redis.hgetall(sets[0]!)).map((v) => JSON.parse(v.slice(v.indexOf('|') + 1))) as Array<{ returnTo?: string }>;
    expect(pending).toHaveLength(1);
    expect(pending[0]!.returnTo).toBeUndefined();
  });
});
