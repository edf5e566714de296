/**
 * SpaceBearerStrategy against the emulator over HTTP: offline JWT checks against the JWKS,
 * online confirmation, refusals as RFC 6750 challenges, outages as 503, and composition with
 * the sign-in gate.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import express, { type Express } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import { SpaceBearerStrategy, SpaceStrategy, type SpaceBearerOptions, type SpaceBearerVerify } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { basic, PROFILE, signIn, tokenRequest } from '../helpers/emulator';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const APP = { clientID: 'bearer-app', clientSecret: 'bearer-secret', redirectURIs: ['*'], name: 'Bearer Bot' };
const DEFAULT = { clientID: 'space-emulator-client', clientSecret: 'space-emulator-secret', redirectURIs: ['*'] };
const JWKS = '/oauth/jwks.json';
const APPS_ME = '/api/http/applications/me';

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, autoApprove: 'john.doe', clients: [DEFAULT, APP] });
  redis = await connectRedis();
  prefix = uniquePrefix('bearer');
});
afterAll(async () => {
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});
beforeEach(() => {
  space.clearFaults();
  space.resetRequests();
});

/** An API with the bearer strategy in front of `/api/whoami`, which echoes req.user and req.authInfo. */
function apiApp(options: Partial<SpaceBearerOptions> = {}, verify?: SpaceBearerVerify, authenticate: object = { session: false }): Express {
  const authenticator = new passport.Passport();
  authenticator.use(new SpaceBearerStrategy({ spaceURL: space.url, orgDomain: 'acme', jwksRefetchInterval: 0, ...options }, verify));
  const app = express();
  app.use(authenticator.initialize());
  app.get('/api/whoami', authenticator.authenticate('space-bearer', authenticate), (req, res) => res.json({ user: req.user, info: req.authInfo }));
  return app;
}

async function appToken(): Promise<string> {
  const answer = await tokenRequest(space, { grant_type: 'client_credentials' }, { auth: basic(APP.clientID, APP.clientSecret) });
  return answer.json.access_token as string;
}

function whoami(app: Express, token?: string) {
  const r = request(app).get('/api/whoami').set('Accept', 'application/json');
  return token === undefined ? r : r.set('Authorization', `Bearer ${token}`);
}

function expectInvalidToken(res: request.Response): void {
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="Space", error="invalid_token", error_description="[^"]+"$/);
  expect(res.body).toEqual({ error: 'invalid_token', error_description: expect.any(String) });
  expect(res.headers.location).toBeUndefined();
}

/** A token with John's claims, signed by `space` or by a key of our own. */
function userClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = Math.floor(Date.now() / 1000);
  return { sub: '2asfen24Jx6u', aud: 'circlet-web-ui', orgDomain: 'acme', name: 'john.doe', iss: space.url, principal_type: 'USER', iat, ...extra };
}

describe('accepted tokens', () => {
  test('a user OAuth token: the normalized profile, marked as a user', async () => {
    const { access_token } = await signIn(space);
    const res = await whoami(apiApp(), access_token);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ provider: 'space', principal: 'user', id: '2asfen24Jx6u', username: 'john.doe', displayName: 'John Doe' });
    expect(res.body.user.emails).toEqual([{ value: 'john.doe@example.com', verified: true }]);
    expect(res.body.info).toMatchObject({ principal: 'user', permanent: false, scope: 'global:Profile.View', expiresAt: expect.any(Number) });
  });

  test('the application\'s client-credentials token: the application, by client id and name', async () => {
    const res = await whoami(apiApp(), await appToken());
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ provider: 'space', principal: 'application', id: APP.clientID, displayName: 'Bearer Bot' });
    expect(space.count(APPS_ME)).toBe(1);
  });

  test('a personal permanent token without exp is accepted once Space confirmed it', async () => {
    const token = space.mintPersonalToken('jane.roe');
    const res = await whoami(apiApp(), token);
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ principal: 'user', username: 'jane.roe' });
    expect(res.body.info).toEqual({ principal: 'user', permanent: true });
    expect(space.count(PROFILE)).toBe(1);
  });

  test('concurrent requests with one token share one confirmation, reused for confirmTTL', async () => {
    const app = apiApp();
    const token = space.mintApplicationToken(APP.clientID);
    const answers = await Promise.all(Array.from({ length: 10 }, () => whoami(app, token)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    await whoami(app, token);
    expect(space.count(APPS_ME)).toBe(1);
  });

  test('the verify callback maps the principal, or refuses it with 403; passReqToCallback passes the request', async () => {
    const onlyJohn: SpaceBearerVerify = (p, done) => (p.principal === 'user' && p.username === 'john.doe' ? done(null, { id: p.id }) : done(null, false));
    const app = apiApp({}, onlyJohn);
    expect((await whoami(app, space.mintPersonalToken('john.doe'))).body.user).toEqual({ id: '2asfen24Jx6u' });
    const refused = await whoami(app, space.mintPersonalToken('jane.roe'));
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('forbidden');

    const withReq = apiApp({ passReqToCallback: true }, ((req: express.Request, p: { id: string }, done: (e: unknown, u?: object) => void) =>
      done(null, { id: p.id, path: req.path })) as never);
    expect((await whoami(withReq, space.mintPersonalToken('john.doe'))).body.user).toEqual({ id: '2asfen24Jx6u', path: '/api/whoami' });
  });
});

describe('refused tokens', () => {
  test('a revoked permanent token stops working within confirmTTL', async () => {
    const app = apiApp({ confirmTTL: 300 });
    const token = space.mintPersonalToken('john.doe');
    expect((await whoami(app, token)).status).toBe(200);
    space.revokePermanentToken(token);
    await new Promise((r) => setTimeout(r, 400));
    expectInvalidToken(await whoami(app, token));
  });

  test('a token of another organization (orgDomain or issuer)', async () => {
    const app = apiApp();
    expectInvalidToken(await whoami(app, space.signJwt(userClaims({ orgDomain: 'other' }))));
    expectInvalidToken(await whoami(app, space.signJwt(userClaims({ iss: 'https://other.jetbrains.space' }))));
    expect(space.count(PROFILE)).toBe(0);
    // The generic Space issuer of older tokens passes the offline checks (Space then refuses this unknown one).
    expectInvalidToken(await whoami(app, space.signJwt(userClaims({ iss: 'https://jetbrains.space', perm_token: 'x' }))));
    expect(space.count(PROFILE)).toBe(1);
  });

  test('a token signed with a key Space does not list', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const data = `${part({ alg: 'RS512' })}.${part(userClaims())}`;
    const forged = `${data}.${sign('sha512', Buffer.from(data), privateKey).toString('base64url')}`;
    expectInvalidToken(await whoami(apiApp(), forged));
    expect(space.count(PROFILE)).toBe(0);
  });

  test('an expired token, and one with another algorithm', async () => {
    expectInvalidToken(await whoami(apiApp(), space.signJwt(userClaims({ exp: Math.floor(Date.now() / 1000) - 5 }))));
    const { access_token } = await signIn(space);
    const [, p, s] = access_token.split('.');
    expectInvalidToken(await whoami(apiApp(), `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.${s}`));
  });

  test('malformed tokens', async () => {
    const app = apiApp();
    for (const token of ['abc', 'a.b', 'a.b.c', 'e30.e30.', '!!!.e30.e30']) expectInvalidToken(await whoami(app, token));
    const spaced = await request(app).get('/api/whoami').set('Authorization', 'Bearer two words');
    expectInvalidToken(spaced);
  });

  test('no Authorization header: 401 with a bare challenge, no error code (RFC 6750 §3.1)', async () => {
    for (const res of [await whoami(apiApp()), await request(apiApp()).get('/api/whoami').set('Authorization', 'Basic eDp5')]) {
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="Space"');
      expect(res.body.error).toBe('unauthenticated');
    }
  });

  test('an application token where only users may call', async () => {
    expectInvalidToken(await whoami(apiApp({ principals: ['user'] }), await appToken()));
  });

  test('mounting without { session: false } is an error, not a session', async () => {
    const res = await whoami(apiApp({}, undefined, {}), space.mintPersonalToken('john.doe'));
    expect(res.status).toBe(500);
    expect(res.headers['set-cookie']).toBeUndefined();
  });
});

describe('keys and outages', () => {
  test('after a key rotation a token signed with the new key is accepted after one JWKS fetch', async () => {
    const app = apiApp({ jwksRefetchInterval: 60_000 });
    expect((await whoami(app, space.mintPersonalToken('john.doe'))).status).toBe(200);
    expect(space.count(JWKS)).toBe(1);
    await space.rotateSigningKey();
    expect((await whoami(app, space.mintPersonalToken('john.doe'))).status).toBe(200);
    expect(space.count(JWKS)).toBe(2);
    // The refetch on a miss is rate-limited: junk signatures do not each cost a JWKS fetch.
    await space.rotateSigningKey({ dropOld: true });
    expectInvalidToken(await whoami(app, space.mintPersonalToken('john.doe')));
    expect(space.count(JWKS)).toBe(2);
  });

  test('Space unreachable: 503 with Retry-After, JSON, for the JWKS and for the confirmation', async () => {
    const token = space.mintPersonalToken('john.doe');
    space.inject({ path: JWKS, reset: true, times: 1 });
    const noKeys = await whoami(apiApp(), token);
    expect(noKeys.status).toBe(503);
    expect(noKeys.headers['retry-after']).toBe('5');
    expect(noKeys.body.error).toBe('temporarily_unavailable');

    space.inject({ path: PROFILE, status: 503, body: { error: 'unavailable' }, times: 1 });
    const app = apiApp({ retryAfter: 1 });
    const down = await whoami(app, token);
    expect(down.status).toBe(503);
    expect(down.headers['retry-after']).toBeDefined();
    // Once Space is back, and the pause (retryAfter) is over, the same token works.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await whoami(app, token)).status).toBe(200);
  });

  test('a confirmation that fails is given again for retryAfter without asking Space: ten requests, one call', async () => {
    const token = space.mintPersonalToken('john.doe');
    const app = apiApp({ retryAfter: 30 });
    space.inject({ path: PROFILE, status: 503, headers: { 'retry-after': '0' }, body: { error: 'unavailable' } });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await whoami(app, token)).status);
    expect(space.count(PROFILE)).toBe(1);
    expect(statuses).toEqual(Array(10).fill(503));
  });

  /** An RS512-shaped JWT with a signature no key makes: what anyone can send. */
  const junkToken = (i: number) => [
    Buffer.from(JSON.stringify({ alg: 'RS512', typ: 'JWT' })).toString('base64url'),
    Buffer.from(JSON.stringify(userClaims({ jti: `junk-${i}` }))).toString('base64url'),
    Buffer.alloc(256, i).toString('base64url'),
  ].join('.');

  test.each([
    ['a 503 with Retry-After', { status: 503, headers: { 'retry-after': '120' }, body: { error: 'unavailable' } }],
    ['connection resets', { reset: true }],
  ])('while the JWKS fails (%s), junk tokens cost Space no fetch each: one fetch at a time, then a pause', async (_name, fault) => {
    const app = apiApp({ jwksRefetchInterval: 30_000 });
    space.inject({ path: JWKS, ...fault });
    const started = Date.now();
    // A burst shares the one fetch under way...
    const burst = await Promise.all(Array.from({ length: 25 }, (_, i) => whoami(app, junkToken(i))));
    // ...and the requests after it wait for the pause to end, without asking.
    const after = [];
    for (let i = 25; i < 50; i++) after.push(await whoami(app, junkToken(i)));
    const elapsed = Date.now() - started;
    for (const res of [...burst, ...after]) {
      expect(res.status).toBe(503);
      expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    if ('status' in fault) {
      expect(space.count(JWKS)).toBe(1); // Retry-After 120 s, capped at jwksRefetchInterval (30 s): one fetch
    } else {
      // Pauses of 1 s, 2 s, 4 s...: at most one fetch per second, however the machine is loaded.
      expect(space.count(JWKS)).toBeLessThanOrEqual(1 + Math.floor(elapsed / 1000));
      expect(space.count(JWKS)).toBeLessThan(10);
    }
  });

  test('keys older than jwksMaxAge keep serving valid tokens while the refetch fails (stale-if-error)', async () => {
    const app = apiApp({ jwksMaxAge: 200, jwksRefetchInterval: 30_000 });
    const token = space.mintPersonalToken('john.doe');
    expect((await whoami(app, token)).status).toBe(200);
    expect(space.count(JWKS)).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    space.inject({ path: JWKS, status: 503, headers: { 'retry-after': '120' }, body: { error: 'unavailable' } });
    for (let i = 0; i < 5; i++) expect((await whoami(app, token)).status).toBe(200);
    // One refetch was tried; its failure paused the others.
    expect(space.count(JWKS)).toBe(2);
    // A junk token meanwhile: its signature matches no key we hold, and Space is not asked.
    expect((await whoami(app, junkToken(1))).status).toBe(503);
    expect(space.count(JWKS)).toBe(2);
  });

  test('bad options are TypeErrors naming the option', () => {
    expect(() => new SpaceBearerStrategy({} as SpaceBearerOptions)).toThrow(/"spaceURL"/);
    expect(() => new SpaceBearerStrategy({ spaceURL: space.url, confirmTTL: -1 })).toThrow(/"confirmTTL"/);
    expect(() => new SpaceBearerStrategy({ spaceURL: space.url, principals: ['robot' as 'user'] })).toThrow(/"principals"/);
  });
});

describe('next to the sign-in gate', () => {
  async function gatedApp(mountBearer: (app: Express, authenticator: passport.PassportStatic) => void) {
    const authenticator = new passport.Passport() as passport.PassportStatic;
    const strategy = new SpaceStrategy({ spaceURL: space.url, clientID: DEFAULT.clientID, clientSecret: DEFAULT.clientSecret, callbackURL: '/auth/space/callback' },
      (_a, _r, profile, done) => done(null, { id: profile.id }));
    authenticator.use(strategy);
    authenticator.use(new SpaceBearerStrategy({ strategy, orgDomain: 'acme' }));
    authenticator.serializeUser((u, d) => d(null, u));
    authenticator.deserializeUser((u: object, d) => d(null, u));
    const app = express();
    app.use(session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
    app.use(authenticator.initialize());
    app.use(authenticator.session());
    mountBearer(app, authenticator);
    app.use(authenticator.authenticate('space'));
    app.get('/api/data', (req, res) => res.json({ user: req.user }));
    app.get('/dashboard', (req, res) => res.json({ user: req.user }));
    return app;
  }

  test('bearer mounted on /api before the gate: bearer calls are served, never sent to sign in', async () => {
    const app = await gatedApp((a, auth) => a.use('/api', auth.authenticate('space-bearer', { session: false })));
    const token = space.mintPersonalToken('jane.roe');
    const ok = await request(app).get('/api/data').set('Authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    expect(ok.body.user).toMatchObject({ principal: 'user', username: 'jane.roe' });
    expect(ok.headers['set-cookie']).toBeUndefined();
    const missing = await request(app).get('/api/data');
    expect(missing.status).toBe(401);
    expect(missing.headers.location).toBeUndefined();
    // Pages still go through the gate.
    expect((await request(app).get('/dashboard').set('Accept', 'text/html')).status).toBe(302);
  });

  test('bearer with { optional: true } before the gate: a token signs the request in, no token falls to the gate', async () => {
    const app = await gatedApp((a, auth) => a.use(auth.authenticate('space-bearer', { session: false, optional: true } as passport.AuthenticateOptions)));
    const token = space.mintPersonalToken('john.doe');
    const page = await request(app).get('/dashboard').set('Accept', 'text/html').set('Authorization', `Bearer ${token}`);
    expect(page.status).toBe(200);
    expect(page.body.user).toMatchObject({ username: 'john.doe' });
    const anonymous = await request(app).get('/dashboard').set('Accept', 'text/html');
    expect(anonymous.status).toBe(302);
    expect(anonymous.headers.location).toContain('/oauth/auth');
    expectInvalidToken(await request(app).get('/dashboard').set('Authorization', 'Bearer junk'));
  });
});
