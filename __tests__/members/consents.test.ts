// A member's refresh token belongs to their consent (member x app), not to a browser: every
// browser of a member renews through it, in every app process; signing out one browser leaves
// the others signed in; the refresh token is revoked at Space only when the last one ends.
// Two app processes (the built package), one Redis, the emulator in each of its refresh-token
// modes, with strict rotation.
import http from 'node:http';
import type Redis from 'ioredis';
import { startSpaceEmulator, type SpaceEmulator, type SpaceEmulatorOptions } from 'passport-jetbrains-space/emulator';
import { cookiesOf } from '../helpers/cookies';
import { connectRedis, deleteKeys, keysUnder, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { startWorker, stopWorkers, type Worker } from '../helpers/workers';

const CLIENT = { clientID: 'consent-client', clientSecret: 'consent-secret' };
const TTL = 2;
const REVOKE = '/api/http/team-directory/profiles/oauth-consents/me/refresh-tokens/self';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Past the token's freshness (half its lifetime with a 2 s token), with room for a busy machine. */
const untilExpired = () => sleep(TTL * 1000 + 300);

let redis: Redis;
beforeAll(async () => { redis = await connectRedis(); });
afterAll(() => redis.disconnect());

interface Answer { status: number; signedIn: boolean; token: string | null; pid?: number }

/** A browser: its cookies, kept across requests as a browser keeps them. */
class Browser {
  cookie = '';
  constructor(readonly name: string) {}

  /** Signs in through `url` (the emulator approves without a page). */
  async signIn(url: string): Promise<void> {
    const start = await fetch(`${url}/auth/space`, { redirect: 'manual', headers: { cookie: this.cookie } });
    const startCookie = [this.cookie, cookiesOf(start.headers)].filter(Boolean).join('; ');
    const approval = await fetch(start.headers.get('location')!, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await fetch(`${url}${back.pathname}${back.search}`, { redirect: 'manual', headers: { cookie: startCookie } });
    expect(callback.status).toBe(302);
    this.cookie = cookiesOf(callback.headers);
  }

  async token(url: string): Promise<Answer> {
    const res = await fetch(`${url}/api/token`, { headers: { cookie: this.cookie, accept: 'application/json' } });
    const body = (await res.json()) as Partial<Answer>;
    return { status: res.status, signedIn: Boolean(body.signedIn), token: body.token ?? null, pid: body.pid };
  }

  async signOut(url: string): Promise<void> {
    const res = await fetch(`${url}/auth/signout`, { method: 'POST', redirect: 'manual', headers: { cookie: this.cookie, accept: 'application/json' } });
    expect(res.status).toBe(204);
  }
}

/** A top-level page navigation (node:http: fetch always says Sec-Fetch-Mode: cors). */
function navigate(url: string, cookie: string): Promise<{ status: number; location: string | undefined; cookies: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers: { cookie, accept: 'text/html', 'sec-fetch-mode': 'navigate' } }, (res) => {
      res.resume();
      const cookies = (res.headers['set-cookie'] ?? []).map((c) => c.split(';')[0]!).filter((c) => !c.endsWith('=')).join('; ');
      resolve({ status: res.statusCode ?? 0, location: res.headers.location, cookies });
    }).on('error', reject);
  });
}

function setup(mode: SpaceEmulatorOptions['refreshTokens'], processes = 2) {
  const ctx = { space: undefined as unknown as SpaceEmulator, workers: [] as Worker[], prefix: '' };
  beforeAll(async () => {
    ctx.space = await startSpaceEmulator({
      port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: TTL,
      rotateRefreshTokens: true, ...(mode ? { refreshTokens: mode } : {}),
    });
    ctx.prefix = uniquePrefix(`consents-${mode ?? 'default'}`);
    const config = { spaceURL: ctx.space.url, ...CLIENT, redisURL: REDIS_URL, prefix: ctx.prefix, secret: 'consent-secret' };
    ctx.workers.push(...(await Promise.all(Array.from({ length: processes }, () => startWorker('worker-app.js', config)))));
  });
  afterAll(async () => {
    await stopWorkers(ctx.workers);
    await ctx.space.close();
    await deleteKeys(redis, ctx.prefix);
  });
  return ctx;
}

const refreshes = (space: SpaceEmulator) => space.count('/oauth/token', { grant_type: 'refresh_token' });

describe.each(['while-none', 'once', 'every-exchange'] as const)('refresh tokens issued %s, rotating', (mode) => {
  const ctx = setup(mode, 3);

  test('three browsers of one member over three processes stay signed in; a burst renews once for all of them', async () => {
    const { space, workers } = ctx;
    const browsers = [new Browser('A'), new Browser('B'), new Browser('C')];
    for (const [i, b] of browsers.entries()) await b.signIn(workers[i]!.url);
    await untilExpired();
    space.resetRequests();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', delayMs: 300 });
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => browsers[i % 3]!.token(workers[(i + 1) % 3]!.url)));
    expect(answers.map((a) => a.status)).toEqual(Array(30).fill(200));
    expect(answers.every((a) => a.signedIn)).toBe(true);
    expect(new Set(answers.map((a) => a.token)).size).toBe(1);
    expect(refreshes(space)).toBe(1);
    expect(space.refreshTokenReuseCount).toBe(0);

    // Signing out browser A (the one Space gave the refresh token, in the default mode) leaves
    // B and C signed in, and renewing, through the consent: nothing is revoked at Space.
    await browsers[0]!.signOut(workers[0]!.url);
    expect((await browsers[0]!.token(workers[1]!.url)).signedIn).toBe(false);
    await untilExpired();
    expect(await browsers[1]!.token(workers[2]!.url)).toMatchObject({ status: 200, signedIn: true });
    expect(await browsers[2]!.token(workers[0]!.url)).toMatchObject({ status: 200, signedIn: true });
    expect(space.count(REVOKE)).toBe(0);
    expect(refreshes(space)).toBe(2);

    // The last two: B's sign-out revokes nothing; C's, the last, revokes the consent once.
    await browsers[1]!.signOut(workers[1]!.url);
    expect(space.count(REVOKE)).toBe(0);
    await browsers[2]!.signOut(workers[2]!.url);
    expect(space.count(REVOKE)).toBe(1);
    expect(space.refreshTokenReuseCount).toBe(0);
    // Nothing of the consent is left in Redis but its ended mark.
    const consentKeys = (await keysUnder(redis, ctx.prefix)).filter((k) => k.includes('{c:'));
    expect(consentKeys.every((k) => k.endsWith(':tokens'))).toBe(true);
  });

  test('two browsers: the first sign-out revokes nothing, the last revokes the consent once (when Space issued one again)', async () => {
    const { space, workers } = ctx;
    const browsers = [new Browser('A'), new Browser('B')];
    for (const [i, b] of browsers.entries()) await b.signIn(workers[i]!.url);
    space.resetRequests();
    const res = await fetch(`${workers[0]!.url}/auth/signout`, { method: 'POST', headers: { cookie: browsers[0]!.cookie, accept: 'application/json' } });
    expect(res.status).toBe(204);
    // B is still signed in (one browser's sign-out); then B, the last, signs out.
    expect((await browsers[1]!.token(workers[2]!.url)).signedIn).toBe(true);
    expect(space.count(REVOKE)).toBe(0);
    await browsers[1]!.signOut(workers[1]!.url);
    // After the revocation above, Space issues a refresh token again, except in 'once' mode.
    expect(space.count(REVOKE)).toBe(mode === 'once' ? 0 : 1);
  });
});

describe('a failed renewal pauses the consent, the lineage that renews', () => {
  const ctx = setup(undefined, 2);

  test('the member\'s other browser, on another process, does not ask Space again while the pause lasts; the pause key is the consent\'s', async () => {
    const { space, workers, prefix } = ctx;
    const browsers = [new Browser('A'), new Browser('B')];
    for (const [i, b] of browsers.entries()) await b.signIn(workers[i]!.url);
    await untilExpired();
    space.resetRequests();
    space.inject({ path: '/oauth/token', grantType: 'refresh_token', times: 1, status: 503, body: { error: 'temporarily_unavailable' } });
    expect((await browsers[0]!.token(workers[0]!.url)).status).toBe(503);
    // B shares A's consent (one refresh token per member): the pause holds for it, in the other process.
    for (let i = 0; i < 4; i++) expect((await browsers[1]!.token(workers[(i + 1) % 2]!.url)).status).toBe(503);
    expect(refreshes(space)).toBe(1);
    const pauses = (await keysUnder(redis, prefix)).filter((k) => k.endsWith(':pause'));
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toContain('{c:');
    // Once the pause (retryDelay, 5 s) is over, one renewal serves both browsers.
    await sleep(5200);
    const answers = await Promise.all([browsers[0]!.token(workers[1]!.url), browsers[1]!.token(workers[0]!.url)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    expect(refreshes(space)).toBe(2);
  });
});

describe('a member without a refresh token (Space issued it once, and it was revoked)', () => {
  const ctx = setup('once');

  test('a page navigation goes through Space and lands on the same URL with a fresh token; an API request gets 401 JSON', async () => {
    const { space, workers } = ctx;
    const first = new Browser('first');
    await first.signIn(workers[0]!.url);
    await first.signOut(workers[0]!.url); // the last sign-in: the consent is revoked at Space
    expect(space.count(REVOKE)).toBe(1);

    const browser = new Browser('later');
    await browser.signIn(workers[1]!.url); // Space issues no refresh token now
    const before = await browser.token(workers[0]!.url);
    expect(before.signedIn).toBe(true);
    await untilExpired();

    // An API request: 401 JSON that says to sign in again, never a 500.
    const api = await fetch(`${workers[0]!.url}/api/token`, { headers: { cookie: browser.cookie, accept: 'application/json' } });
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ error: 'unauthenticated' });

    // A navigation (in a second browser of the same kind): Space again, and back to the same URL.
    const nav = new Browser('navigating');
    await nav.signIn(workers[1]!.url);
    await untilExpired();
    const page = await navigate(`${workers[1]!.url}/api/token?x=1`, nav.cookie);
    expect(page.status).toBe(302);
    expect(page.location).toBe('/auth/space?returnTo=%2Fapi%2Ftoken%3Fx%3D1');
    let cookie = [nav.cookie, page.cookies].filter(Boolean).join('; ');
    const start = await navigate(`${workers[1]!.url}${page.location}`, cookie);
    cookie = [cookie, start.cookies].filter(Boolean).join('; ');
    const approval = await fetch(start.location!, { redirect: 'manual' });
    const back = new URL(approval.headers.get('location')!);
    const callback = await navigate(`${workers[1]!.url}${back.pathname}${back.search}`, cookie);
    expect(callback.status).toBe(302);
    expect(callback.location).toBe('/api/token?x=1');
    nav.cookie = callback.cookies;
    const after = await nav.token(workers[0]!.url);
    expect(after).toMatchObject({ status: 200, signedIn: true });
    expect(refreshes(space)).toBe(0);
  });
});

describe('sign-ins written before consents (a refresh token in the sign-in record)', () => {
  const ctx = setup(undefined);

  test('keep working and move to their member\'s consent on their next renewal', async () => {
    const { space, workers, prefix } = ctx;
    const browser = new Browser('old');
    await browser.signIn(workers[0]!.url);
    // Rewrite the sign-in's record as 0.1 wrote it: its own refresh token, no consent, and the
    // consent gone. (The record is not sealed in this app: no encryption keys.)
    const recordKey = (await keysUnder(redis, prefix)).find((k) => /\{[A-Za-z0-9_-]{43}\}:tokens$/.test(k))!;
    const consentKey = (await keysUnder(redis, prefix)).find((k) => k.includes('{c:') && k.endsWith(':tokens'))!;
    const consent = JSON.parse((await redis.get(consentKey))!) as Record<string, unknown>;
    const record = JSON.parse((await redis.get(recordKey))!) as Record<string, unknown>;
    delete record.consent;
    record.refreshToken = consent.refreshToken;
    await redis.set(recordKey, JSON.stringify(record), 'PX', 600_000);
    await redis.del(consentKey);

    await untilExpired();
    space.resetRequests();
    expect(await browser.token(workers[1]!.url)).toMatchObject({ status: 200, signedIn: true });
    expect(refreshes(space)).toBe(1);
    const moved = JSON.parse((await redis.get(recordKey))!) as Record<string, unknown>;
    expect(moved.refreshToken).toBeUndefined();
    expect(moved.consent).toEqual(expect.stringMatching(/^c:/));
    expect(JSON.parse((await redis.get(consentKey))!)).toMatchObject({ refreshToken: expect.any(String) });

    // And a second browser of the member now renews through the same consent.
    const second = new Browser('new');
    await second.signIn(workers[1]!.url);
    await untilExpired();
    await Promise.all([browser.token(workers[0]!.url), second.token(workers[1]!.url)]);
    expect(await second.token(workers[0]!.url)).toMatchObject({ status: 200, signedIn: true });
    expect(refreshes(space)).toBe(2);
    expect(space.refreshTokenReuseCount).toBe(0);
  });
});
