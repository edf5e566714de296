// One app process for the team-rule and sessions tests: the README setup plus spaceAuthorize
// and spaceSessions, loading the built package by its name. Config comes in WORKER_CONFIG; the
// port goes out on stdout.
'use strict';
const http = require('node:http');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { SpaceStrategy, spaceTokenRefresh, spaceErrorHandler, spaceAuthorize, spaceSessions } = require('passport-jetbrains-space');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
const strategy = new SpaceStrategy(
  {
    spaceURL: config.spaceURL, clientID: config.clientID, clientSecret: config.clientSecret, callbackURL: '/auth/space/callback',
    scope: ['global:Profile.View', 'global:Profile.Memberships.View'], redis, keyPrefix: `${config.prefix}space:`,
  },
  (_accessToken, _refreshToken, profile, done) => done(null, { id: profile.id, username: profile.username }),
);
passport.use(strategy);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const app = express();
app.use(session({
  store: new RedisStore({ client: redis, prefix: `${config.prefix}sess:` }),
  secret: config.secret, name: 'sid', resave: false, saveUninitialized: false,
}));
app.use(passport.initialize());
app.use(passport.session());
app.use(spaceTokenRefresh({ strategy }));
app.get('/auth/space', passport.authenticate('space'));
app.get('/auth/space/callback', passport.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/whoami'));
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

redis.once('ready', () => {
  const server = http.createServer(app).listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => { redis.disconnect(); process.exit(0); });
  });
});
