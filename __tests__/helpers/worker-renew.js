// One app process for the renewal-fault tests (the README setup, the built package by its
// name), reporting its events. Config in WORKER_CONFIG; the port goes out on stdout.
'use strict';
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const { spaceErrorHandler } = require('passport-jetbrains-space');
const { workerApp, listen, fingerprint } = require('./worker-base.js');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
// Real time, whatever Date.now says (the clock-shift preload changes only Date.now).
const realNow = () => performance.timeOrigin + performance.now();
const events = [];
const { app } = workerApp({
  config, redis, RedisStore, landing: '/api/token',
  strategy: { ...(config.strategy || {}), onEvent: (e) => events.push({ ...e, at: realNow() }) },
});
const fp = fingerprint;
app.get('/api/token', (req, res) => {
  const t = req.spaceTokens;
  res.json({ pid: process.pid, signedIn: Boolean(req.user), token: fp(t && t.accessToken), expiresAt: t ? t.expiresAt : null, now: Date.now(), at: realNow() });
});
// Asks Space itself whether the token handed out works (Space judges expiry with its own clock).
app.get('/api/check', async (req, res) => {
  const t = req.spaceTokens;
  if (!t) return res.json({ signedIn: false });
  const answer = await fetch(`${config.spaceURL}/api/http/team-directory/profiles/me`, { headers: { Authorization: `Bearer ${t.accessToken}`, Accept: 'application/json' } });
  res.json({ signedIn: true, token: fp(t.accessToken), spaceStatus: answer.status });
});
app.get('/events', (_req, res) => res.json(events));
app.use(spaceErrorHandler());

redis.once('ready', () => listen(app, () => redis.disconnect()));
