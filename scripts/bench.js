#!/usr/bin/env node
// Benchmarks for spaceTokenRefresh, against the Space emulator and the local Redis
// (REDIS_URL, default redis://127.0.0.1:6379). Run with `npm run bench` (builds first).
// Prints figures and ratios; nothing here is a pass/fail test.
'use strict';
const http = require('node:http');
const { randomBytes } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { SpaceStrategy, spaceTokenRefresh } = require('passport-jetbrains-space');
const { startSpaceEmulator } = require('passport-jetbrains-space/emulator');

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const CLIENT = { clientID: 'bench-client', clientSecret: 'bench-secret' };
const prefix = `pjs-bench:${randomBytes(4).toString('hex')}:`;
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(url, cookie) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: cookie ? { cookie } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
  });
}

async function startApp(space, redis, withRefresh) {
  const authenticator = new passport.Passport();
  const strategy = new SpaceStrategy({ spaceURL: space.url, ...CLIENT, callbackURL: '/auth/space/callback' },
    (_a, _r, profile, done) => done(null, { id: profile.id }));
  authenticator.use(strategy);
  authenticator.serializeUser((u, d) => d(null, u));
  authenticator.deserializeUser((u, d) => d(null, u));
  const app = express();
  app.use(session({ store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }), secret: 'bench', resave: false, saveUninitialized: false }));
  app.use(authenticator.initialize());
  app.use(authenticator.session());
  if (withRefresh) app.use(spaceTokenRefresh({ strategy, redis, keyPrefix: `${prefix}space:` }));
  app.get('/auth/space', authenticator.authenticate('space'));
  app.get('/auth/space/callback', authenticator.authenticate('space'), (_req, res) => res.send('ok'));
  app.get('/ping', (req, res) => res.send(req.spaceTokens ? 'token' : req.user ? 'user' : 'anonymous'));
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

async function signIn(url) {
  const start = await get(`${url}/auth/space`);
  const cookie0 = start.headers['set-cookie'][0].split(';')[0];
  const approval = await fetch(start.headers.location, { redirect: 'manual' });
  const back = new URL(approval.headers.get('location'));
  const cb = await get(`${url}${back.pathname}${back.search}`, cookie0);
  return cb.headers['set-cookie'][0].split(';')[0];
}

async function throughput(url, cookie, total, concurrency) {
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < total) {
      const res = await get(`${url}/ping`, cookie);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    }
  }));
  const ms = performance.now() - started;
  return { rps: (total / ms) * 1000, meanMs: (ms / total) * concurrency };
}

const percentile = (values, p) => values.slice().sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))];
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main() {
  const redis = new Redis(REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  const space = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', refreshTokenOnEveryExchange: true });
  const out = [];
  try {
    // 1. Cost on requests whose token is fresh (the common case): same app with and without it.
    const plain = await startApp(space, redis, false);
    const refreshing = await startApp(space, redis, true);
    const cookiePlain = await signIn(plain.url);
    const cookieRefresh = await signIn(refreshing.url);
    await throughput(plain.url, cookiePlain, 500, 8); // warm-up
    await throughput(refreshing.url, cookieRefresh, 500, 8);
    const rounds = [];
    for (let i = 0; i < 3; i++) {
      rounds.push([await throughput(plain.url, cookiePlain, 4000, 16), await throughput(refreshing.url, cookieRefresh, 4000, 16)]);
    }
    const best = (k) => Math.max(...rounds.map((r) => r[k].rps));
    out.push(['fresh token, session+passport only', `${fmt(best(0))} req/s`]);
    out.push(['fresh token, + spaceTokenRefresh', `${fmt(best(1))} req/s`]);
    out.push(['  ratio (with / without)', fmt(best(1) / best(0), 3)]);
    plain.server.close();

    // 2. Renewal bursts: N concurrent requests of one session right after the token expired.
    await space.close();
    const shortSpace = await startSpaceEmulator({ port: 0, clients: [{ ...CLIENT, redirectURIs: ['*'] }], autoApprove: 'john.doe', accessTokenTTL: 2, refreshTokenOnEveryExchange: true, rotateRefreshTokens: true });
    const burstApp = await startApp(shortSpace, redis, true);
    for (const size of [10, 100, 500]) {
      const cookie = await signIn(burstApp.url);
      await new Promise((r) => setTimeout(r, 1200));
      shortSpace.resetRequests();
      const latencies = [];
      const statuses = await Promise.all(Array.from({ length: size }, async () => {
        const t = performance.now();
        const res = await get(`${burstApp.url}/ping`, cookie);
        latencies.push(performance.now() - t);
        return res.status;
      }));
      const ok = statuses.filter((s) => s === 200).length;
      out.push([`burst of ${size} after expiry`, `${shortSpace.count('/oauth/token', { grant_type: 'refresh_token' })} token request(s), ${ok}/${size} ok, p50 ${fmt(percentile(latencies, 50), 1)} ms, p99 ${fmt(percentile(latencies, 99), 1)} ms`]);
    }

    // 3. Memory: many renewals in one process must not grow the heap (no per-grant leftovers).
    const sessions = 200;
    const cookies = [];
    for (let i = 0; i < sessions; i++) cookies.push(await signIn(burstApp.url));
    await new Promise((r) => setTimeout(r, 1200));
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    shortSpace.resetRequests();
    const t = performance.now();
    await Promise.all(cookies.map((c) => get(`${burstApp.url}/ping`, c)));
    const renewMs = performance.now() - t;
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    out.push([`${sessions} sessions renewed at once`, `${shortSpace.count('/oauth/token', { grant_type: 'refresh_token' })} token requests, ${fmt(renewMs)} ms`]);
    out.push(['heap growth over those renewals', `${fmt((heapAfter - heapBefore) / 1024 / 1024, 2)} MiB (${fmt((heapAfter - heapBefore) / sessions / 1024, 2)} KiB per session${global.gc ? '' : '; run with --expose-gc for a cleaner figure'})`]);
    out.push(['rss', `${fmt(process.memoryUsage().rss / 1024 / 1024, 1)} MiB`]);
    burstApp.server.close();
    refreshing.server.close();
    await shortSpace.close();
  } finally {
    let cursor = '0';
    do {
      const [nextCursor, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = nextCursor;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    agent.destroy();
  }
  const width = Math.max(...out.map(([k]) => k.length));
  console.log(`passport-jetbrains-space benchmark (node ${process.version}, ${require('node:os').cpus().length} cores)`);
  for (const [k, v] of out) console.log(`${k.padEnd(width)}  ${v}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
