// One app process for the renewal-fault tests (the README setup, the built package by its
// name), reporting its events. Config in WORKER_CONFIG; the port goes out on stdout.
'use strict';
const http = require('node:http');
const { createHash } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { SpaceStrategy, spaceTokenRefresh, spaceErrorHandler } = require('passport-jetbrains-space');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
// Real time, whatever Date.now says (the clock-shift preload changes only Date.now).
const realNow = () => performance.timeOrigin + performance.now();
const events = [];
const strategy = new SpaceStrategy(
  {
    spaceURL: config.spaceURL, clientID: config.clientID, clientSecret: config.clientSecret, callbackURL: '/auth/space/callback',
    redis, keyPrefix: `${config.prefix}space:`, ...(config.strategy || {}),
    onEvent: (e) => events.push({ ...e, at: realNow() }),
  },
  (_accessToken, _refreshToken, profile, done) => done(null, { id: profile.id, username: profile.username }),
);
passport.use(strategy);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const fp = (token) => (token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null);
const app = express();
app.use(session({
  store: new RedisStore({ client: redis, prefix: `${config.prefix}sess:` }),
  secret: config.secret, name: 'sid', resave: false, saveUninitialized: false,
}));
app.use(passport.initialize());
app.use(passport.session());
app.use(spaceTokenRefresh({ strategy }));
app.get('/auth/space', passport.authenticate('space'));
app.get('/auth/space/callback', passport.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/api/token'));
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

redis.once('ready', () => {
  const server = http.createServer(app).listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => { redis.disconnect(); process.exit(0); });
  });
});
