// One app process for the multi-process tests: the same setup as the README, loading the
// built package by its name. Config comes in WORKER_CONFIG; the port goes out on stdout.
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
const strategy = new SpaceStrategy(
  { spaceURL: config.spaceURL, clientID: config.clientID, clientSecret: config.clientSecret, callbackURL: '/auth/space/callback' },
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
app.use(spaceTokenRefresh({ strategy, redis, keyPrefix: `${config.prefix}space:` }));
app.get('/auth/space', passport.authenticate('space'));
app.get('/auth/space/callback', passport.authenticate('space', { failureRedirect: '/failed' }), (_req, res) => res.redirect('/api/token'));
app.get('/api/token', (req, res) => {
  const token = req.spaceTokens && req.spaceTokens.accessToken;
  res.json({ pid: process.pid, signedIn: Boolean(req.user), token: token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null });
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
