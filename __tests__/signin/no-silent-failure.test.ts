// The first hour's usual mistakes are never silent: a refused callback reaches the app (its
// failureRedirect with the reason, or the error handler) and prints one warning line without DEBUG.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import type Redis from 'ioredis';
import passport from 'passport';
import request from 'supertest';
import { SpaceStrategy, spaceErrorHandler, spaceSignOut } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { startTestApp, type TestApp } from '../helpers/app';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'silent-client', clientSecret: 'silent-secret' };

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
let app: TestApp;

/** The library's warning lines meanwhile (still printed). */
function collectWarnings(): { list: string[]; stop(): void } {
  const original = console.warn.bind(console);
  const list: string[] = [];
  const spy = jest.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
    list.push(args.map(String).join(' '));
    original(...args);
  });
  return { list, stop: () => spy.mockRestore() };
}

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('silent');
  app = await startTestApp({
    spaceURL: space.url, ...CLIENT, redis, prefix, refresh: {},
    setup: (express, strategy) => {
      // A callback route that hands failures to the error handlers (Passport's failWithError).
      const authenticator = new passport.Passport();
      authenticator.use(strategy);
      express.get('/auth/space/callback-to-handler', authenticator.authenticate('space', { failWithError: true }));
    },
  });
});

const servers: http.Server[] = [];

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await app.close();
  await deleteKeys(redis, prefix);
  await space.close();
  redis.disconnect();
});

/** Starts a sign-in in `agent` and returns the callback path Space sends back (not yet followed). */
async function pendingCallback(agent: ReturnType<TestApp['agent']>): Promise<string> {
  const start = await agent.get('/auth/space').expect(302);
  const approval = await fetch(start.headers.location as string, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location')!);
  return back.pathname + back.search;
}

describe('a refused callback', () => {
  test('started on one host name, back on another: the app gets the reason, and the operator one warning line naming the host', async () => {
    const warnings = collectWarnings();
    try {
      for (let i = 0; i < 3; i++) {
        // The browser started on one host name; Space sends it back to another, where it has no sign-in cookie.
        const path = await pendingCallback(app.agent());
        const elsewhere = app.agent();
        const back = await elsewhere.get(path).set('Host', 'callback-host.test:3000');
        expect(back.status).toBe(302);
        expect(back.headers.location).toBe('/signin-failed');
        expect((await elsewhere.get('/signin-failed').set('Host', 'callback-host.test:3000').expect(401)).body.messages)
          .toEqual([expect.stringContaining('does not match a sign-in started in this browser')]);
      }
      const ours = warnings.list.filter((w) => w.includes('[PASSPORT_JETBRAINS_SPACE_SIGN_IN_REFUSED]'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toMatch(/^passport-jetbrains-space: a sign-in callback was refused \(state_unknown, 403\): Sign-in state does not match/);
      expect(ours[0]).toContain('without the browser\'s sign-in cookie (space.signin)');
      expect(ours[0]).toContain('another host name than this callback\'s (callback-host.test:3000)');
      // Never the state or the code.
      expect(ours[0]).not.toMatch(/state=|code=/);
    } finally {
      warnings.stop();
    }
  });

  test('with failWithError, spaceErrorHandler answers with the status and the reason, not Passport\'s bare "Forbidden"', async () => {
    const path = (await pendingCallback(app.agent())).replace('/auth/space/callback', '/auth/space/callback-to-handler');
    const page = await app.agent().get(path).set('Accept', 'text/html');
    expect(page.status).toBe(403);
    expect(page.text).toContain('Sign-in could not be completed');
    expect(page.text).toContain('does not match a sign-in started in this browser');
    const api = await app.agent().get(path).set('Accept', 'application/json');
    expect(api.status).toBe(403);
    expect(api.body).toEqual({ error: 'sign_in_failed', error_description: expect.stringContaining('does not match a sign-in started in this browser') });
  });
});

/**
 * A small app as a first-hour user may write it: `gate` protects everything (else /me sends a
 * visitor to /auth/space); `passportSession: false` forgets passport.session(); `secureCookie`
 * sets cookie.secure while the app is served over plain HTTP.
 */
async function firstHourApp(options: { gate?: boolean; passportSession?: boolean; secureCookie?: boolean }): Promise<string> {
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({ spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback', redis, keyPrefix: `${prefix}space:` },
    (_a, _r, profile, done) => done(null, { id: profile.id, username: profile.username }));
  authenticator.use(strategy);
  authenticator.serializeUser((u, d) => d(null, u));
  authenticator.deserializeUser((u: object, d) => d(null, u));
  const web = express();
  web.use(session({
    store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', resave: false, saveUninitialized: false,
    cookie: { secure: options.secureCookie === true, sameSite: 'lax' },
  }));
  web.use(authenticator.initialize());
  if (options.passportSession !== false) web.use(authenticator.session());
  web.post('/auth/signout', spaceSignOut({ strategy }));
  if (options.gate) web.use(authenticator.authenticate('space'));
  web.get('/auth/space', authenticator.authenticate('space'));
  web.get('/auth/space/callback', authenticator.authenticate('space', { successReturnToOrRedirect: '/me', failureRedirect: '/' }));
  web.get('/me', (req, res) => {
    if (!req.user) return void res.redirect('/auth/space?returnTo=/me');
    res.json({ user: req.user });
  });
  web.use(spaceErrorHandler());
  const server = http.createServer(web);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Follows a browser's redirects (through Space's auto-approving /oauth/auth) until a page that is not a redirect, or Space's 6th visit. */
async function browse(agent: ReturnType<typeof request.agent>, base: string, path: string): Promise<{ res: request.Response; tripsToSpace: number }> {
  let tripsToSpace = 0;
  let next = path;
  for (let hop = 0; hop < 20; hop++) {
    const res = await agent.get(next).set('Accept', 'text/html');
    if (res.status !== 302) return { res, tripsToSpace };
    const location = new URL(res.headers.location as string, base);
    if (location.origin === space.url) {
      if (++tripsToSpace > 5) return { res, tripsToSpace };
      const approval = await fetch(location, { redirect: 'manual' });
      next = new URL(approval.headers.get('location')!).pathname + new URL(approval.headers.get('location')!).search;
    } else {
      next = location.pathname + location.search;
    }
  }
  throw new Error('too many redirects');
}

describe('a sign-in that does not stick never loops', () => {
  test('passport.session() forgotten, gate mode: one trip to Space, then a page naming passport.session() and one warning line', async () => {
    const base = await firstHourApp({ gate: true, passportSession: false });
    const warnings = collectWarnings();
    try {
      const agent = request.agent(base);
      const { res, tripsToSpace } = await browse(agent, base, '/me');
      expect(tripsToSpace).toBe(1);
      expect(res.status).toBe(500);
      expect(res.text).toContain('Signed in, but the sign-in was not kept');
      expect(res.text).toContain('passport.session() is not mounted');
      const again = await browse(agent, base, '/me');
      expect(again.tripsToSpace).toBe(1);
      const ours = warnings.list.filter((w) => w.includes('[PASSPORT_JETBRAINS_SPACE_NO_PASSPORT_SESSION]'));
      expect(ours).toHaveLength(1);
      expect(ours[0]).toContain('app.use(passport.session())');
    } finally {
      warnings.stop();
    }
  });

  test('a Secure session cookie over plain HTTP: the page and the warning name cookie.secure and trust proxy', async () => {
    const base = await firstHourApp({ secureCookie: true });
    const warnings = collectWarnings();
    try {
      const agent = request.agent(base);
      const { res, tripsToSpace } = await browse(agent, base, '/me');
      expect(tripsToSpace).toBe(1);
      expect(res.status).toBe(500);
      expect(res.text).toContain('cookie.secure: true');
      expect(res.text).toContain('trust proxy');
      expect(warnings.list.filter((w) => w.includes('[PASSPORT_JETBRAINS_SPACE_SIGN_IN_NOT_KEPT]') && w.includes('cookie.secure'))).toHaveLength(1);
      // "Try again" is a real try: the browser goes to Space again.
      const retry = await agent.get('/auth/space?returnTo=/me').set('Accept', 'text/html');
      expect(retry.status).toBe(302);
      expect(new URL(retry.headers.location as string).origin).toBe(space.url);
      const json = await browse(agent, base, '/me');
      expect(json.res.status).toBe(500);
    } finally {
      warnings.stop();
    }
  });

  test('a working app is not affected: signed in, signed out and signed in again right away', async () => {
    const base = await firstHourApp({ gate: true });
    const agent = request.agent(base);
    const first = await browse(agent, base, '/me');
    expect(first.res.status).toBe(200);
    expect(first.res.body.user.username).toBe('john.doe');
    await agent.post('/auth/signout').set('Accept', 'application/json').expect(204);
    const second = await browse(agent, base, '/me');
    expect(second.tripsToSpace).toBe(1);
    expect(second.res.status).toBe(200);
  });
});
