/**
 * spaceAuthorize against the emulator over HTTP and a real Redis: each kind of rule, nested
 * teams, memberships that do not count, changes seen within the TTL, one Space call per TTL
 * across processes, Space away, the 403 answers, and bearer-token users.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import passport from 'passport';
import request from 'supertest';
import type Redis from 'ioredis';
import {
  SpaceBearerStrategy, SpaceStrategy, spaceAuthorize, spaceErrorHandler, spaceTokenRefresh, type SpaceAuthorizeOptions,
} from 'passport-jetbrains-space';
import { startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { signIn } from '../helpers/app';
import { signIn as tokenSignIn } from '../helpers/emulator';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, startOwnRedis, uniquePrefix } from '../helpers/redis';
import { cookiesOf } from '../helpers/cookies';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'teams-client', clientSecret: 'teams-secret', redirectURIs: ['*'] };
const SCOPE = ['global:Profile.View', 'global:Profile.Memberships.View'];
const MEMBERSHIPS = '/api/http/team-directory/memberships';
const PROFILE = '/api/http/team-directory/profiles/me';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let space: SpaceEmulator;
let redis: Redis;
let prefix: string;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0, clients: [CLIENT, { clientID: 'space-emulator-client', clientSecret: 'space-emulator-secret', redirectURIs: ['*'] }], autoApprove: 'john.doe' });
  redis = await connectRedis();
  prefix = uniquePrefix('authorize');
});
afterAll(async () => {
  for (const close of closers) await close();
  await space.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
});
beforeEach(() => {
  space.clearFaults();
  space.setAutoApprove('john.doe');
});

type Routes = Record<string, SpaceAuthorizeOptions>;

/** The README setup with one `spaceAuthorize` per route; each route echoes `req.spaceMember`. */
async function startApp(routes: Routes, extra: { encryptionKeys?: string[]; bearer?: boolean; scope?: string[]; strategyRedis?: Redis } = {}) {
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({
    spaceURL: space.url, clientID: CLIENT.clientID, clientSecret: CLIENT.clientSecret, callbackURL: '/auth/space/callback',
    scope: extra.scope ?? SCOPE, redis: extra.strategyRedis ?? redis, keyPrefix: `${prefix}space:`, ...(extra.encryptionKeys ? { encryptionKeys: extra.encryptionKeys } : {}),
  }, (_a, _r, profile, done) => done(null, { id: profile.id, username: profile.username }));
  authenticator.use(strategy);
  authenticator.use(new SpaceBearerStrategy({ strategy, orgDomain: 'acme' }));
  authenticator.serializeUser((user, done) => done(null, user));
  authenticator.deserializeUser((user: Express.User, done) => done(null, user));
  const app = express();
  app.use(session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 's', name: 'sid', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  app.use(spaceTokenRefresh({ strategy }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback', authenticator.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/'));
  for (const [route, options] of Object.entries(routes)) {
    app.get(route, spaceAuthorize(options), (req, res) => res.json({ admitted: true, member: req.spaceMember }));
    if (extra.bearer === false) continue;
    app.get(`/api${route}`, authenticator.authenticate('space-bearer', { session: false }), spaceAuthorize({ ...options, strategy }),
      (req, res) => res.json({ admitted: true, member: req.spaceMember }));
  }
  app.use(spaceErrorHandler());
  app.use((err: Error, _req: Request, res: Response, _next: NextFunction) => res.status(500).json({ name: err.name, message: err.message }));
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  closers.push(close);
  return { url, strategy, agent: () => request.agent(url) };
}

async function signedIn(app: { agent(): ReturnType<typeof request.agent> }, username = 'john.doe') {
  space.setAutoApprove(username);
  const agent = app.agent();
  await signIn(agent);
  return agent;
}

const json = (r: ReturnType<typeof request.agent>, route: string) => r.get(route).set('Accept', 'application/json');

describe('options', () => {
  test('an unknown option, no rule, or a bad TTL is a TypeError naming it', () => {
    expect(() => spaceAuthorize({ teams: ['x'], requires: 'all' } as never)).toThrow(/no option "requires" \(did you mean "require"\?\)/);
    expect(() => spaceAuthorize({})).toThrow(/at least one rule/);
    expect(() => spaceAuthorize({ teams: [] })).toThrow(/"teams" must be a non-empty array/);
    expect(() => spaceAuthorize({ teams: ['x'], membershipTTL: 5000, membershipMaxStale: 1000 })).toThrow(/membershipMaxStale/);
    expect(() => spaceAuthorize({ teams: ['x'], require: 'most' as never })).toThrow(/"require" must be one of/);
  });

  test('a strategy without the memberships scope takes it, when spaceAuthorize is created before it serves', () => {
    const strategy = new SpaceStrategy({ spaceURL: space.url, clientID: 'a', clientSecret: 'b', callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
    spaceAuthorize({ strategy, teams: ['Platform'] });
    expect(strategy.settings.scope).toBe('global:Profile.View global:Profile.Memberships.View');
    // Once it serves, its scope is fixed: the same mistake is then a TypeError naming the scope.
    expect(strategy.runtime).toBeDefined();
    expect(strategy.addScope('global:Project.View')).toBe(false);
    const later = new SpaceStrategy({ spaceURL: space.url, clientID: 'a', clientSecret: 'b', callbackURL: '/cb' }, (_a, _r, p, done) => done(null, p));
    void later.runtime;
    expect(() => spaceAuthorize({ strategy: later, teams: ['Platform'] })).toThrow(/served requests already.*global:Profile\.Memberships\.View/);
    expect(later.settings.scope).toBe('global:Profile.View');
  });
});

describe('rules', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let john: ReturnType<typeof request.agent>;
  let jane: ReturnType<typeof request.agent>;
  beforeAll(async () => {
    app = await startApp({
      '/platform': { teams: ['Platform'] },
      '/acme-by-id': { teams: ['team-acme'] },
      '/marketing': { teams: ['Marketing'] },
      '/storage': { teams: ['Storage'] },
      '/legacy': { teams: ['Legacy Tools'] },
      '/leads': { roles: ['Team Lead'] },
      '/designers': { roles: ['role-designer'] },
      '/john': { users: ['JOHN.DOE'] },
      '/example': { emailDomains: ['example.com'] },
      '/custom': { allow: (m) => m.teams.some((t) => t.path.join(' > ') === 'Acme > Platform > Storage' && t.lead) },
      '/any': { teams: ['Marketing'], roles: ['Team Lead'] },
      '/all': { teams: ['Platform'], roles: ['Designer'], require: 'all' },
      '/all-john': { teams: ['Platform'], roles: ['Team Lead'], users: ['john.doe'], require: 'all' },
    });
    john = await signedIn(app, 'john.doe');
    jane = await signedIn(app, 'jane.roe');
  });

  const status = async (agent: ReturnType<typeof request.agent>, route: string) => (await json(agent, route)).status;

  test('a team rule admits members of the team and of its sub-teams, by name or id', async () => {
    expect(await status(john, '/storage')).toBe(200);
    expect(await status(john, '/platform')).toBe(200);
    expect(await status(john, '/acme-by-id')).toBe(200);
    expect(await status(john, '/marketing')).toBe(403);
    expect(await status(jane, '/marketing')).toBe(200);
    expect(await status(jane, '/acme-by-id')).toBe(200);
  });

  test('archived, ended and unapproved memberships do not count', async () => {
    expect(await status(john, '/legacy')).toBe(403); // archived
    expect(await status(jane, '/platform')).toBe(403); // ended (till 2022-06-14)
    expect(await status(jane, '/storage')).toBe(403); // requires approval
  });

  test('a role rule admits holders of the role by name or id', async () => {
    expect(await status(john, '/leads')).toBe(200);
    expect(await status(jane, '/leads')).toBe(403);
    expect(await status(jane, '/designers')).toBe(200);
    expect(await status(john, '/designers')).toBe(403);
  });

  test('a users rule matches the username case-insensitively', async () => {
    expect(await status(john, '/john')).toBe(200);
    expect(await status(jane, '/john')).toBe(403);
  });

  test('an emailDomains rule counts verified addresses only', async () => {
    expect(await status(john, '/example')).toBe(200); // john.doe@example.com, verified
    expect(await status(jane, '/example')).toBe(403); // jane.roe@example.com, not verified
  });

  test('an allow rule decides on the facts', async () => {
    expect(await status(john, '/custom')).toBe(200);
    expect(await status(jane, '/custom')).toBe(403);
  });

  test('with require "any" one matching rule admits; with "all" every listed rule must match', async () => {
    expect(await status(john, '/any')).toBe(200); // Team Lead
    expect(await status(jane, '/any')).toBe(200); // Marketing
    expect(await status(john, '/all')).toBe(403); // in Platform but not a Designer
    expect(await status(john, '/all-john')).toBe(200);
    expect(await status(jane, '/all-john')).toBe(403);
  });

  test('req.spaceMember holds the teams with their paths and the roles', async () => {
    const res = await json(john, '/platform');
    expect(res.body.member).toEqual({
      id: '2asfen24Jx6u', username: 'john.doe', emails: ['john.doe@example.com'],
      teams: [{ id: 'team-storage', name: 'Storage', path: ['Acme', 'Platform', 'Storage'], pathIds: ['team-acme', 'team-platform', 'team-storage'], lead: true }],
      roles: [{ id: 'role-lead', name: 'Team Lead' }],
    });
  });

  test('a refused page request gets a 403 page with who is signed in and a sign-out button; an API request gets JSON', async () => {
    const page = await jane.get('/platform').set('Accept', 'text/html');
    expect(page.status).toBe(403);
    expect(page.headers.location).toBeUndefined();
    expect(page.text).toContain('jane.roe');
    expect(page.text).toMatch(/<form method="post" action="\/auth\/signout">/);
    const api = await json(jane, '/platform');
    expect(api.status).toBe(403);
    expect(api.body).toMatchObject({ error: 'forbidden' });
  });

  test('nobody signed in: a page navigation goes to sign in and comes back, an API request gets 401 JSON', async () => {
    const nav = await request(app.url).get('/platform?x=1').set('Accept', 'text/html');
    expect(nav.status).toBe(302);
    expect(nav.headers.location).toBe(`/auth/space?returnTo=${encodeURIComponent('/platform?x=1')}`);
    const api = await request(app.url).get('/platform').set('Accept', 'application/json');
    expect(api.status).toBe(401);
    expect(api.body).toMatchObject({ error: 'unauthenticated' });
  });

  test('the facts are cached under the sign-in\'s hash tag, one Space read per TTL', async () => {
    space.resetRequests();
    for (let i = 0; i < 5; i++) expect(await status(john, '/platform')).toBe(200);
    expect(space.count(MEMBERSHIPS)).toBe(0);
    const keys = await keysUnder(redis, `${prefix}space:`);
    expect(keys.filter((k) => k.endsWith(':member'))).toHaveLength(2);
    expect(keys.filter((k) => k.endsWith(':member')).every((k) => /^.*space:\{[A-Za-z0-9_-]{43}\}:member$/.test(k))).toBe(true);
  });
});

describe('freshness', () => {
  test('a membership change in Space is seen within the TTL without a new sign-in', async () => {
    const app = await startApp({ '/platform': { teams: ['Platform'], membershipTTL: 1000 } });
    const jane = await signedIn(app, 'jane.roe');
    expect((await json(jane, '/platform')).status).toBe(403);
    const before = space.teams; // keep the default directory around for later tests
    expect(before.length).toBeGreaterThan(0);
    space.setMemberships('jane.roe', [{ teamId: 'team-platform', roleId: 'role-engineer', since: '2025-01-01' }]);
    await sleep(1100);
    expect((await json(jane, '/platform')).status).toBe(200);
    space.setMemberships('jane.roe', [{ teamId: 'team-platform', roleId: 'role-engineer', since: '2025-01-01', till: '2025-02-01' }]);
    await sleep(1100);
    expect((await json(jane, '/platform')).status).toBe(403);
    space.setMemberships('jane.roe', [
      { teamId: 'team-marketing', roleId: 'role-designer', since: '2022-06-15' },
      { teamId: 'team-platform', roleId: 'role-engineer', till: '2022-06-14' },
      { teamId: 'team-storage', roleId: 'role-engineer', requiresApproval: true },
    ]);
  });

  test('Space away: the last facts are used up to membershipMaxStale, then 503; missing facts never admit', async () => {
    const app = await startApp({ '/platform': { teams: ['Platform'], membershipTTL: 1000, membershipMaxStale: 3000 } });
    const john = await signedIn(app, 'john.doe');
    expect((await json(john, '/platform')).status).toBe(200);
    space.inject({ path: MEMBERSHIPS, status: 503, body: { error: 'unavailable' } });
    space.inject({ path: PROFILE, status: 503, body: { error: 'unavailable' } });
    await sleep(1100);
    expect((await json(john, '/platform')).status).toBe(200); // stale but within 3 s
    await sleep(2000);
    const late = await json(john, '/platform');
    expect(late.status).toBe(503);
    expect(Number(late.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    space.clearFaults();
    // A new sign-in while Space cannot answer for memberships: 503, not admitted.
    const other = await signedIn(app, 'john.doe');
    space.inject({ path: MEMBERSHIPS, status: 503, body: { error: 'unavailable' } });
    expect((await json(other, '/platform')).status).toBe(503);
    space.clearFaults();
    await sleep(2100); // past the retry pause
    expect((await json(other, '/platform')).status).toBe(200);
  });

  test.each([
    ['a 403 (the token may not read memberships)', { status: 403, body: { error: 'permission-denied', error_description: 'Not allowed' } }, 403],
    ['an HTML page with status 200 (a proxy)', { status: 200, headers: { 'content-type': 'text/html' }, body: '<html>Sign in to the proxy</html>' }, 502],
  ])('Space refusing the memberships read (%s): the refusal is answered again without asking Space for a pause, in every process', async (_name, fault, status) => {
    const app = await startApp({ '/platform': { teams: ['Platform'] } });
    const other = await startApp({ '/platform': { teams: ['Platform'] } }); // a second process, same Redis and sessions
    space.setAutoApprove('john.doe');
    const john = app.agent();
    const { callback } = await signIn(john);
    const cookie = (callback.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('sid='))!.split(';')[0]!;
    space.inject({ path: MEMBERSHIPS, ...fault });
    space.resetRequests();
    const started = Date.now();
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await fetch(`${(i % 2 ? other : app).url}/platform`, { headers: { cookie, accept: 'application/json' } });
      statuses.push(res.status);
    }
    const elapsed = Date.now() - started;
    // One read per pause (2 s), however loaded the machine: not one per request.
    expect(space.count(MEMBERSHIPS)).toBeLessThanOrEqual(1 + Math.floor(elapsed / 2000));
    expect(space.count(MEMBERSHIPS)).toBeLessThan(5);
    expect(statuses).toEqual(Array(10).fill(status));
  });

  test('Space and the library\'s Redis away together: each process still asks Space at most once per pause', async () => {
    const own = await startOwnRedis();
    const strategyRedis = await connectRedis(own.url);
    try {
      const app = await startApp({ '/platform': { teams: ['Platform'] } }, { strategyRedis });
      const john = await signedIn(app, 'john.doe');
      await own.stop(); // the sessions stay (on the other Redis); the records, locks and facts are gone
      space.inject({ path: MEMBERSHIPS, status: 503, body: { error: 'unavailable' } });
      space.resetRequests();
      const started = Date.now();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await json(john, '/platform')).status);
      const elapsed = Date.now() - started;
      expect(statuses).toEqual(Array(10).fill(503));
      expect(space.count(MEMBERSHIPS)).toBeLessThanOrEqual(1 + Math.floor(elapsed / 2000));
      expect(space.count(MEMBERSHIPS)).toBeLessThan(5);
    } finally {
      strategyRedis.disconnect();
      await own.stop();
    }
  });

  test('facts are sealed in Redis when encryption keys are set', async () => {
    const app = await startApp({ '/platform': { teams: ['Platform'] } }, { encryptionKeys: ['a'.repeat(64)] });
    const before = new Set(await keysUnder(redis, `${prefix}space:`));
    const john = await signedIn(app, 'john.doe');
    expect((await json(john, '/platform')).status).toBe(200);
    const fresh = (await keysUnder(redis, `${prefix}space:`)).filter((k) => !before.has(k) && k.endsWith(':member'));
    expect(fresh).toHaveLength(1);
    const raw = (await redis.get(fresh[0]!))!;
    expect(raw).toMatch(/"sealed":"s1\./);
    expect(raw).not.toContain('Storage');
  });
});

describe('sealed facts', () => {
  test('with encryption keys, plain facts in place of the sealed ones are refused: Space is asked again', async () => {
    const keys = { encryptionKeys: ['b'.repeat(64)] };
    const app = await startApp({ '/secret': { teams: ['Secret'] } }, keys);
    const before = new Set(await keysUnder(redis, `${prefix}space:`));
    const john = await signedIn(app, 'john.doe');
    expect((await json(john, '/secret')).status).toBe(403);
    const key = (await keysUnder(redis, `${prefix}space:`)).find((k) => !before.has(k) && k.endsWith(':member'))!;
    // Facts of the attacker's: John in a team he is not in.
    const forged = { id: '2asfen24Jx6u', username: 'john.doe', emails: [], roles: [], teams: [{ id: 't-secret', name: 'Secret', path: ['Secret'], pathIds: ['t-secret'], lead: false }] };
    await redis.set(key, JSON.stringify({ member: forged, at: Date.now() }), 'PX', 600_000);
    // Another app process, which has nothing cached, with the same cookie.
    const other = await startApp({ '/secret': { teams: ['Secret'] } }, keys);
    space.resetRequests();
    const res = await request(other.url).get('/secret').set('Accept', 'application/json').set('Cookie', (await john.get('/nothing')).request.cookies);
    expect(res.status).toBe(403);
    expect(space.count(MEMBERSHIPS)).toBe(1);
  });
});

describe('paging and depth', () => {
  test('every page of memberships is read; ancestors are seen up to four levels above a team', async () => {
    const teams = [{ id: 'root', name: 'Initech' }, { id: 'l1', name: 'L1', parentId: 'root' }, { id: 'l2', name: 'L2', parentId: 'l1' },
      { id: 'l3', name: 'L3', parentId: 'l2' }, { id: 'l4', name: 'L4', parentId: 'l3' },
      ...Array.from({ length: 130 }, (_, i) => ({ id: `t${i}`, name: `Team ${i}`, parentId: 'l4' }))];
    const big = await startSpaceEmulator({
      port: 0, clients: [CLIENT], autoApprove: 'john.doe', teams, roles: [{ id: 'dev', name: 'Developer' }],
      memberships: teams.slice(5).map((t) => ({ member: 'john.doe', teamId: t.id, roleId: 'dev' })),
    });
    const previous = space;
    space = big;
    try {
      const app = await startApp({ '/last': { teams: ['Team 129'] }, '/mid': { teams: ['L2'] }, '/root': { teams: ['Initech'] } });
      const john = await signedIn(app, 'john.doe');
      big.resetRequests();
      expect((await json(john, '/last')).status).toBe(200);
      expect(big.count(MEMBERSHIPS)).toBe(2); // 100 + 30
      expect((await json(john, '/mid')).status).toBe(200);
      const member = (await json(john, '/mid')).body.member;
      expect(member.teams).toHaveLength(130);
      expect(member.teams[0].path).toEqual(['L1', 'L2', 'L3', 'L4', 'Team 0']);
      // Four levels above the team are read: the root, five levels up, is not seen. Refused, never guessed.
      expect((await json(john, '/root')).status).toBe(403);
    } finally {
      space = previous;
      await big.close();
    }
  });
});

describe('users: ids and usernames apart', () => {
  // One member's id is spelled, in another case, as another member's username.
  const USERS = [
    { id: 'u-Admin1', username: 'boss', firstName: 'Ada', lastName: 'Boss', emails: [] },
    { id: 'p7Qx2', username: 'u-admin1', firstName: 'Una', lastName: 'Admin', emails: [] },
    { id: 'j0hn', username: 'john.doe', firstName: 'John', lastName: 'Doe', emails: [] }, // beforeEach approves him
  ];
  let people: SpaceEmulator;
  let previous: SpaceEmulator;
  let app: Awaited<ReturnType<typeof startApp>>;
  let boss: ReturnType<typeof request.agent>; // id u-Admin1, username boss
  let una: ReturnType<typeof request.agent>; // id p7Qx2, username u-admin1
  beforeAll(async () => {
    people = await startSpaceEmulator({ port: 0, clients: [CLIENT], autoApprove: 'u-Admin1', users: USERS });
    previous = space;
    space = people;
    app = await startApp({
      '/plain-id-other-case': { users: ['P7QX2'] },
      '/plain-id': { users: ['p7Qx2'] },
      '/plain-username': { users: ['BOSS'] },
    });
    boss = await signedIn(app, 'u-Admin1');
    una = await signedIn(app, 'p7Qx2');
  });
  afterAll(async () => {
    space = previous;
    await people.close();
  });

  test('a plain string matches the profile id exactly, not in another case', async () => {
    expect((await json(una, '/plain-id-other-case')).status).toBe(403);
    expect((await json(una, '/plain-id')).status).toBe(200);
    expect((await json(boss, '/plain-username')).status).toBe(200); // and the username in any case, as before
  });

  test('{ id } matches the profile id only, { username } the username only (any case)', async () => {
    const explicit = await startApp({ '/by-id': { users: [{ id: 'u-Admin1' }] }, '/by-username': { users: [{ username: 'U-ADMIN1' }] } });
    boss = await signedIn(explicit, 'u-Admin1');
    una = await signedIn(explicit, 'p7Qx2');
    expect((await json(boss, '/by-id')).status).toBe(200);
    expect((await json(una, '/by-id')).status).toBe(403); // her username spells the id: not an id
    expect((await json(una, '/by-username')).status).toBe(200);
    expect((await json(boss, '/by-username')).status).toBe(403); // his id spells the username: not a username
  });

  test('a users entry that is neither a string, { id } nor { username } is a TypeError', () => {
    expect(() => spaceAuthorize({ users: [{ id: 'x', username: 'y' }] as never })).toThrow(/"users" must be a non-empty array of profile ids \(\{ id/);
    expect(() => spaceAuthorize({ users: [{ id: '' }] })).toThrow(/"users"/);
    expect(() => spaceAuthorize({ users: [{ name: 'x' }] as never })).toThrow(/"users"/);
    expect(() => spaceAuthorize({ users: [] })).toThrow(/"users"/);
  });
});

describe('bearer users', () => {
  test('a user token is checked by its own memberships; an application token or a token without the scope is refused', async () => {
    const app = await startApp({ '/platform': { teams: ['Platform'] } });
    space.setAutoApprove('john.doe');
    const john = await tokenSignIn(space, { scope: SCOPE.join(' ') });
    space.setAutoApprove('jane.roe');
    const jane = await tokenSignIn(space, { scope: SCOPE.join(' ') });
    const narrow = await tokenSignIn(space, { scope: 'global:Profile.View' });
    const call = (token: string) => request(app.url).get('/api/platform').set('Accept', 'application/json').set('Authorization', `Bearer ${token}`);
    space.resetRequests();
    const admitted = await call(john.access_token);
    expect(admitted.status).toBe(200);
    expect(admitted.body.member.teams[0].path).toEqual(['Acme', 'Platform', 'Storage']);
    expect((await call(john.access_token)).status).toBe(200);
    expect(space.count(MEMBERSHIPS)).toBe(1); // cached by a hash of the token
    expect((await call(jane.access_token)).status).toBe(403);
    const refused = await call(narrow.access_token);
    expect(refused.status).toBe(403);
    expect(refused.body.error_description).toMatch(/Profile\.Memberships\.View/);
  });
});

describe('three app processes', () => {
  const workers: Worker[] = [];
  afterAll(() => stopWorkers(workers));

  async function startApp(workerPrefix: string): Promise<string> {
    const worker = await startWorker('worker-authorize.js', { spaceURL: space.url, ...CLIENT, redisURL: REDIS_URL, prefix: workerPrefix, secret: 'w', ttl: 600000 });
    workers.push(worker);
    return worker.url;
  }

  test('a burst across three processes asks Space for the memberships once', async () => {
    const workerPrefix = `${prefix}w:`;
    const urls = await Promise.all([startApp(workerPrefix), startApp(workerPrefix), startApp(workerPrefix)]);
    space.setAutoApprove('john.doe');
    const start = await fetch(`${urls[0]}/auth/space`, { redirect: 'manual' });
    const startCookie = cookiesOf(start.headers);
    const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await fetch(`${urls[0]}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: startCookie } });
    const cookie = cookiesOf(callback.headers);
    space.resetRequests();
    space.inject({ path: MEMBERSHIPS, delayMs: 300 });
    const answers = await Promise.all(Array.from({ length: 45 }, (_, i) => fetch(`${urls[i % 3]}/admin`, { headers: { cookie, accept: 'application/json' } })
      .then(async (r) => ({ status: r.status, body: (await r.json()) as { pid: number; teams: string[] } }))));
    expect(answers.map((a) => a.status)).toEqual(Array(45).fill(200));
    expect(new Set(answers.map((a) => a.body.pid)).size).toBe(3);
    expect(answers[0]!.body.teams).toEqual(['Storage']);
    expect(space.count(MEMBERSHIPS)).toBe(1);
    expect(space.count(PROFILE)).toBe(1);
  });
});

test('spaceAuthorize created at start-up without a strategy option: the strategy asks for the scope, and the first team check admits (no 500)', async () => {
  const app = await startApp({ '/platform': { teams: ['Platform'] } }, { scope: ['global:Profile.View'], bearer: false });
  expect(app.strategy.settings.scope).toBe('global:Profile.View global:Profile.Memberships.View');
  space.resetRequests();
  const john = await signedIn(app);
  const asked = space.requests.find((r) => r.path === '/oauth/auth');
  expect(asked?.query.scope).toBe('global:Profile.View global:Profile.Memberships.View');
  expect((await json(john, '/platform').expect(200)).body.admitted).toBe(true);
});
