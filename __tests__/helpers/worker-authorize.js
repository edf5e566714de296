// One app process for the team-rule and sessions tests: the README setup plus spaceAuthorize
// and spaceSessions, loading the built package by its name. Config comes in WORKER_CONFIG; the
// port goes out on stdout.
'use strict';
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const { spaceErrorHandler, spaceAuthorize, spaceSessions } = require('passport-jetbrains-space');
const { workerApp, listen } = require('./worker-base.js');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
const { app } = workerApp({
  config, redis, RedisStore, landing: '/whoami',
  strategy: { scope: ['global:Profile.View', 'global:Profile.Memberships.View'] },
});
app.get('/whoami', (req, res) => res.json({ pid: process.pid, signedIn: Boolean(req.user) }));
app.get('/admin', spaceAuthorize({ teams: ['Platform'], membershipTTL: config.ttl || 600000 }), (req, res) => {
  res.json({ pid: process.pid, teams: req.spaceMember.teams.map((t) => t.name) });
});
app.get('/sessions', async (req, res, next) => {
  try {
    if (!req.user) return void res.status(401).json({ error: 'unauthenticated' });
    res.json({ pid: process.pid, sessions: await spaceSessions(req).list() });
  } catch (err) {
    next(err);
  }
});
app.post('/sessions/end-all', async (req, res, next) => {
  try {
    if (!req.user) return void res.status(401).json({ error: 'unauthenticated' });
    await spaceSessions(req).endAll({ exceptCurrent: req.query.exceptCurrent === '1' });
    res.json({ ok: true });
  } catch (err) {
    next(err);
  }
});
app.post('/sessions/end', async (req, res, next) => {
  try {
    if (!req.user) return void res.status(401).json({ error: 'unauthenticated' });
    await spaceSessions(req).end(String(req.query.id));
    res.json({ ok: true });
  } catch (err) {
    next(err);
  }
});
app.use(spaceErrorHandler());

redis.once('ready', () => listen(app, () => redis.disconnect()));
