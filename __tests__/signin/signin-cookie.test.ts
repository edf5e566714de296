// The browser's sign-in cookie: each SpaceStrategy of an app has its own (named after the
// strategy), so two Space organizations signed into from one browser never clear each other's.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import type Redis from 'ioredis';
import request from 'supertest';
import { SpaceStrategy } from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { connectRedis, deleteKeys, uniquePrefix } from '../helpers/redis';

const CLIENT = { clientID: 'cookie-client', clientSecret: 'cookie-secret' };

let acme: SpaceEmulator;
let beta: SpaceEmulator;
let redis: Redis;
const prefix = uniquePrefix('signin-cookie');
let server: http.Server;
let url: string;

beforeAll(async () => {
  acme = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  beta = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'jane.roe' });
  redis = await connectRedis(undefined, { connectTimeout: 10_000, commandTimeout: 10_000 });
  const authenticator = new passport.Passport();
  const verify = (_at: string, _rt: string | undefined, profile: { username: string }, done: (err: unknown, user?: object) => void) => done(null, { username: profile.username });
  const first = new SpaceStrategy({ spaceURL: acme.url, ...CLIENT, callbackURL: '/auth/acme/callback', redis, keyPrefix: `${prefix}acme:` }, verify);
  first.name = 'acme';
  const second = new SpaceStrategy({ spaceURL: beta.url, ...CLIENT, callbackURL: '/auth/beta/callback', redis, keyPrefix: `${prefix}beta:` }, verify);
  second.name = 'beta';
  authenticator.use(first);
  authenticator.use(second);
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.use(session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  for (const name of ['acme', 'beta']) {
    app.get(`/auth/${name}`, authenticator.authenticate(name));
    app.get(`/auth/${name}/callback`, authenticator.authenticate(name, { failureRedirect: '/failed' }), (_req, res) => res.redirect(`/done/${name}`));
  }
  app.get('/me', (req, res) => res.json({ user: req.user ?? null }));
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await acme.close();
  await beta.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

test('two strategies in one browser: each has its own sign-in cookie, and finishing one leaves the other pending', async () => {
  const agent = request.agent(url);
  const startA = await agent.get('/auth/acme');
  const startB = await agent.get('/auth/beta');
  expect(([] as string[]).concat(startA.headers['set-cookie'] ?? []).map((c) => c.split('=')[0])).toEqual(['acme.signin']);
  expect(([] as string[]).concat(startB.headers['set-cookie'] ?? []).map((c) => c.split('=')[0])).toEqual(['beta.signin']);
  const finish = async (start: typeof startA) => {
    const approval = await fetch(new URL(start.headers.location as string), { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    return agent.get(back.pathname + back.search);
  };
  const doneA = await finish(startA);
  expect(doneA.headers.location).toBe('/done/acme');
  // Only acme's cookie goes; beta's sign-in is still on its way back from Space.
  expect(([] as string[]).concat(doneA.headers['set-cookie'] ?? []).filter((c) => c.includes('.signin=')).map((c) => c.split(';')[0])).toEqual(['acme.signin=']);
  const doneB = await finish(startB);
  expect(doneB.headers.location).toBe('/done/beta');
  expect((await agent.get('/me')).body.user).toEqual({ username: 'jane.roe' });
});

test('the signInCookie option names it, and must differ from the session cookie', () => {
  const verify = () => undefined;
  const options = { spaceURL: acme.url, ...CLIENT, callbackURL: '/cb' };
  expect(() => new SpaceStrategy({ ...options, signInCookie: 'bad name' }, verify)).toThrow(/"signInCookie" must be a cookie name/);
  expect(() => new SpaceStrategy({ ...options, signInCookie: 'connect.sid' }, verify)).toThrow(/"signInCookie" and "cookieName" \(the session cookie\) must differ/);
  expect(() => new SpaceStrategy({ ...options, signInCookie: 'app.pending' }, verify)).not.toThrow();
});
