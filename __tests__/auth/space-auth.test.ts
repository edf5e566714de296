// spaceAuth: an app set up with that one call signs in with Space, renews, signs out, guards
// itself with authRequired, and refuses a cross-origin sign-out; its options are checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import { SpaceStrategy, spaceApi, spaceAuth, spaceErrorHandler, type SpaceAuthOptions } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { fingerprint, signIn } from '../helpers/app';
import { connectRedis, deleteKeys, keysUnder, keyText, uniquePrefix } from '../helpers/redis';

/* eslint-disable @typescript-eslint/no-require-imports -- the peer tests load the package afresh, with jest's module mocks. */

const CLIENT = { clientID: 'auth-client', clientSecret: 'auth-secret-canary-5d1e' };
const SECRET = 'auth-session-secret';

let space: SpaceEmulator;
let redis: Redis;
const prefix = uniquePrefix('auth');
const servers: http.Server[] = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2 });
  redis = await connectRedis();
});

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

/** A server on a free port, whose app is made once its URL (the baseURL) is known. */
async function serve(make: (baseURL: string) => Express): Promise<string> {
  const made: { app?: Express } = {};
  const server = http.createServer((req, res) => made.app!(req, res));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  made.app = make(baseURL);
  return baseURL;
}

const base = (baseURL: string, more: Partial<SpaceAuthOptions> = {}): SpaceAuthOptions => ({
  spaceURL: space.url, ...CLIENT, baseURL, secret: SECRET, redis, keyPrefix: `${prefix}space:`, passport: new passport.Passport(), ...more,
});

/** The app of the README's "Short setup": spaceAuth, two routes, spaceErrorHandler. */
function shortSetup(more: Partial<SpaceAuthOptions> = {}) {
  return (baseURL: string) => {
    const app = express();
    app.use(spaceAuth(base(baseURL, more)));
    app.get('/', (req, res) => res.json({ user: req.user ?? null, token: fingerprint(req.spaceTokens?.accessToken) }));
    app.get('/healthz', (_req, res) => res.send('ok'));
    app.get('/private', (req, res) => res.send(`private page of ${(req.user as { username: string }).username}`));
    app.get('/me', async (req, res, next) => {
      try {
        res.json(await spaceApi(req).get('team-directory/profiles/me', { query: { $fields: 'username' } }));
      } catch (err) {
        next(err);
      }
    });
    app.use(spaceErrorHandler());
    return app;
  };
}

describe('an app set up only with spaceAuth', () => {
  test('signs in, renews the access token, calls Space and signs out, against the emulator and Redis', async () => {
    const url = await serve(shortSetup());
    const agent = request.agent(url);
    const { callback } = await signIn(agent);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/');
    const first = await agent.get('/').expect(200);
    expect(first.body.user).toMatchObject({ provider: 'space', username: 'john.doe', displayName: 'John Doe' });
    expect(first.body.user._json).toBeUndefined();
    expect((await agent.get('/me').expect(200)).body.username).toBe('john.doe');

    // A 2 s token: renewed once it is within half its life of expiring.
    space.resetRequests();
    let renewed = first.body.token as string;
    for (let i = 0; i < 100 && renewed === first.body.token; i++) {
      await new Promise((r) => setTimeout(r, 200));
      renewed = (await agent.get('/').expect(200)).body.token;
    }
    expect(renewed).not.toBe(first.body.token);
    expect(space.count('/oauth/token', { grant_type: 'refresh_token' })).toBeGreaterThanOrEqual(1);
    expect((await agent.get('/me').expect(200)).body.username).toBe('john.doe');

    // Sessions live in the same Redis, under the library's prefix; no token in a key name or session.
    const keys = await keysUnder(redis, `${prefix}space:sess:`);
    expect(keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys) expect(await keyText(redis, key)).not.toContain('accessToken');

    const out = await agent.post('/auth/signout').set('Origin', url).set('Accept', 'text/html').expect(302);
    expect(out.headers.location).toBe('/');
    expect((await agent.get('/').expect(200)).body.user).toBeNull();
    expect(space.count('/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self')).toBe(1);
  });

  test('exposes the SpaceStrategy it made, with the callback URL made from baseURL', async () => {
    let router: ReturnType<typeof spaceAuth> | undefined;
    const url = await serve((baseURL) => {
      const app = express();
      app.use((router = spaceAuth(base(baseURL, { scope: ['global:Profile.View', 'global:Profile.Memberships.View'] }))));
      return app;
    });
    expect(router!.strategy).toBeInstanceOf(SpaceStrategy);
    expect(router!.strategy.settings.callbackURL).toBe(`${url}/auth/space/callback`);
    expect(router!.strategy.settings.scope).toBe('global:Profile.View global:Profile.Memberships.View');
    expect(router!.strategy.signInPath).toBe('/auth/space');
  });

  test('the sign-in route of a signed-in browser goes straight to returnTo, without a trip to Space', async () => {
    const url = await serve(shortSetup());
    const agent = request.agent(url);
    await signIn(agent);
    const again = await agent.get('/auth/space?returnTo=/me').expect(302);
    expect(again.headers.location).toBe('/me');
  });

  test('a refused callback shows why, through spaceErrorHandler', async () => {
    const url = await serve(shortSetup());
    const start = await request(url).get('/auth/space').expect(302);
    const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    // Another browser (no sign-in cookie) brings the callback.
    const res = await request(url).get(back.pathname + back.search).set('Accept', 'text/html');
    expect(res.status).toBe(403);
    expect(res.text).toContain('Sign-in could not be completed');
    expect(res.text).toContain('does not match a sign-in started in this browser');
  });
});

describe('authRequired: true', () => {
  test('gate mode for everything mounted after it, with publicPaths', async () => {
    const url = await serve(shortSetup({ authRequired: true, publicPaths: ['/healthz'] }));
    await request(url).get('/healthz').expect(200, 'ok');
    const api = await request(url).get('/private').set('Accept', 'application/json').expect(401);
    expect(api.body.error).toBe('unauthenticated');
    const agent = request.agent(url);
    const page = await agent.get('/private').set('Accept', 'text/html').expect(302);
    expect(new URL(page.headers.location as string).origin).toBe(space.url);
    const approval = await fetch(page.headers.location as string, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const landed = await agent.get(back.pathname + back.search).expect(302);
    expect(landed.headers.location).toBe('/private');
    await agent.get('/private').set('Accept', 'text/html').expect(200, 'private page of john.doe');
  });
});

describe('sign-out is same-origin only', () => {
  test('a cross-origin POST is refused with 403, and the user stays signed in; the app\'s own page signs out', async () => {
    const url = await serve(shortSetup());
    const agent = request.agent(url);
    await signIn(agent);
    const evil = await agent.post('/auth/signout').set('Origin', 'https://evil.example').set('Accept', 'text/html').expect(403);
    expect(evil.body).toEqual({ error: 'cross_origin', error_description: expect.stringContaining('must come from this site\'s own pages') });
    await agent.post('/auth/signout').set('Sec-Fetch-Site', 'cross-site').expect(403);
    await agent.post('/auth/signout').set('Sec-Fetch-Site', 'same-site').expect(403);
    await agent.post('/auth/signout').set('Origin', 'null').expect(403);
    expect((await agent.get('/').expect(200)).body.user.username).toBe('john.doe');
    await agent.post('/auth/signout').set('Sec-Fetch-Site', 'same-origin').set('Origin', url).set('Accept', 'application/json').expect(204);
    expect((await agent.get('/').expect(200)).body.user).toBeNull();
  });
});

describe('options', () => {
  const opts = (more: Record<string, unknown> = {}) => ({ ...base('http://localhost:3000'), ...more }) as unknown as SpaceAuthOptions;

  test.each([
    [{ authrequired: true }, 'spaceAuth has no option "authrequired" (did you mean "authRequired"?)'],
    [{ baseURL: 'http://localhost:3000/app' }, 'option "baseURL" must be the app\'s origin without a path (use "http://localhost:3000"'],
    [{ baseURL: 'localhost:3000' }, 'option "baseURL" must be an http(s) URL'],
    [{ secret: '' }, 'option "secret" must be the session secret'],
    [{ redis: undefined }, 'option "redis" is required'],
    [{ strategyOptions: { callbackURL: '/cb' } }, '"strategyOptions.callbackURL" is not taken here: spaceAuth makes it from "baseURL" and "routes.callback"'],
    [{ strategyOptions: { keyPrefix: 'x:' } }, '"strategyOptions.keyPrefix" is a shared setting: give it at the top level'],
    [{ strategyOptions: { scopes: 'x' } }, 'SpaceStrategy has no option "scopes"'],
    [{ session: { secret: 'other' } }, '"session.secret" repeats "secret"'],
    [{ session: { store: {} } }, '"session.store" is not taken'],
    [{ session: { name: 'sid' }, cookieName: 'other' }, '"session.name" ("sid") and "cookieName" ("other") both name the session cookie'],
    [{ routes: { signIn: '/login' }, signInPath: '/auth/space' }, '"routes.signIn" ("/login") and "signInPath" ("/auth/space") name the same path differently'],
    [{ routes: { signin: '/login' } }, 'spaceAuth option "routes" has no option "signin" (did you mean "signIn"?)'],
    [{ routes: { signIn: '/auth/space/callback' } }, 'must be three different paths'],
    [{ publicPaths: ['/healthz'] }, '"publicPaths" only applies with "authRequired: true"'],
    [{ spaceURL: 'https://acme.jetbrains.space/p/acme' }, 'spaceAuth: SpaceStrategy option "spaceURL" must be your organization\'s address without a path'],
    [{ passport: {} }, 'option "passport" must be a Passport instance'],
  ])('a bad or conflicting option is a TypeError naming it (%#)', (more, message) => {
    expect(() => spaceAuth(opts(more))).toThrow(TypeError);
    expect(() => spaceAuth(opts(more))).toThrow(message);
  });

  test('a Passport instance that has a "space" strategy already is refused; the passport module is used when none is given', () => {
    const instance = new passport.Passport();
    spaceAuth(opts({ passport: instance }));
    expect(() => spaceAuth(opts({ passport: instance }))).toThrow('this Passport instance has a "space" strategy already');
    const { passport: _none, ...withoutPassport } = opts() as unknown as Record<string, unknown>;
    spaceAuth(withoutPassport as unknown as SpaceAuthOptions);
    expect((passport as unknown as { _strategy(name: string): unknown })._strategy('space')).toBeInstanceOf(SpaceStrategy);
    passport.unuse('space');
  });

  test('mounted under a path, it says to mount it at the root', async () => {
    const url = await serve((baseURL) => {
      const app = express();
      app.use('/app', spaceAuth(base(baseURL)));
      app.use((err: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => res.status(500).json({ message: err.message }));
      return app;
    });
    const res = await request(url).get('/app/auth/space').expect(500);
    expect(res.body.message).toContain('spaceAuth() must be mounted at the root, app.use(spaceAuth(...)), not under "/app"');
  });
});

describe('the peers', () => {
  test('connect-redis 9 with an ioredis client is refused, naming connect-redis@8', () => {
    jest.isolateModules(() => {
      jest.doMock('connect-redis', () => jest.requireActual('connect-redis9'));
      const { spaceAuth: isolated } = require('passport-jetbrains-space') as typeof import('passport-jetbrains-space');
      expect(() => isolated(base('http://localhost:3000'))).toThrow('the installed connect-redis (9 or later) takes only node-redis clients: npm install connect-redis@8');
    });
    jest.dontMock('connect-redis');
  });

  test('a peer that is not installed is a TypeError naming the package to install', () => {
    jest.isolateModules(() => {
      jest.doMock('express-session', () => {
        throw Object.assign(new Error("Cannot find module 'express-session' from 'lib/auth/peers.ts'"), { code: 'MODULE_NOT_FOUND' });
      });
      const { spaceAuth: isolated } = require('passport-jetbrains-space') as typeof import('passport-jetbrains-space');
      expect(() => isolated(base('http://localhost:3000'))).toThrow('spaceAuth needs the package "express-session", which is not installed: npm install express-session');
    });
    jest.dontMock('express-session');
  });

  test('node-redis with connect-redis 9: signs in and out', async () => {
    const { createClient } = jest.requireActual('redis') as typeof import('redis');
    const client = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
    await client.connect();
    try {
      let isolated: typeof spaceAuth | undefined;
      jest.isolateModules(() => {
        jest.doMock('connect-redis', () => jest.requireActual('connect-redis9'));
        isolated = (require('passport-jetbrains-space') as typeof import('passport-jetbrains-space')).spaceAuth;
      });
      jest.dontMock('connect-redis');
      const url = await serve((baseURL) => {
        const app = express();
        app.use(isolated!(base(baseURL, { redis: client })));
        app.get('/', (req, res) => res.json({ user: req.user ?? null }));
        return app;
      });
      const agent = request.agent(url);
      await signIn(agent);
      expect((await agent.get('/').expect(200)).body.user.username).toBe('john.doe');
      await agent.post('/auth/signout').set('Origin', url).expect(302);
      expect((await agent.get('/').expect(200)).body.user).toBeNull();
    } finally {
      await client.quit();
    }
  });
});
