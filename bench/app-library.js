// App (c): this library, as README "Quick start" writes it, imported the way users import it
// (the package name resolves to this repository's dist/ through package.json "exports").
// Environment: SPACE_URL, BENCH_PREFIX (Redis key prefix of this run), BENCH_CLUSTER.
'use strict';
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { SpaceStrategy, spaceTokenRefresh, spaceErrorHandler, spaceSignOut } = require('passport-jetbrains-space');
const { CLIENT, SESSION_SECRET, REDIS_URL, REDIS_TIMEOUT, clock, redisOptions, runApp } = require('./common.js');

const prefix = process.env.BENCH_PREFIX;
// BENCH_CLUSTER (comma-separated ports): a Redis Cluster, set up as docs/several-instances.md says.
const redis = process.env.BENCH_CLUSTER
  ? new Redis.Cluster(process.env.BENCH_CLUSTER.split(',').map((port) => ({ host: '127.0.0.1', port: Number(port) })), { enableOfflineQueue: false, redisOptions })
  : new Redis(REDIS_URL, redisOptions);
const writes = [];

const strategy = new SpaceStrategy({
  spaceURL: process.env.SPACE_URL,
  clientID: CLIENT.clientID,
  clientSecret: CLIENT.clientSecret,
  callbackURL: '/auth/space/callback',
  // A load test signs in thousands of members from one address: a flood, by design.
  rateLimit: false,
  // Bench only: the library's own waits, for Redis (default 2000 ms, raised with the client's,
  // see common.js) and for Space (default 10000 ms), raised when the app runs under valgrind.
  ...(REDIS_TIMEOUT !== 2000 ? { redisTimeout: REDIS_TIMEOUT } : {}),
  ...(process.env.BENCH_SPACE_TIMEOUT ? { timeout: Number(process.env.BENCH_SPACE_TIMEOUT) } : {}),
  // Bench only: when this process wrote a renewal, to time the waiters of other processes.
  onEvent: (e) => { if (e.event === 'token.refreshed' && writes.push(clock()) > 1000) writes.shift(); },
}, (accessToken, refreshToken, profile, done) => done(null, profile));
passport.use(strategy);
passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

const app = express();
app.use(session({
  store: new RedisStore({ client: redis, prefix: `${prefix}sess:` }),
  secret: SESSION_SECRET,
  resave: false,
  saveUninitialized: false,
  cookie: { httpOnly: true, sameSite: 'lax', secure: 'auto' },
}));
app.use(passport.initialize());
app.use(passport.session());
app.use(spaceTokenRefresh({ strategy, redis, keyPrefix: `${prefix}space:` }));

app.get('/auth/space', passport.authenticate('space'));
app.get('/auth/space/callback',
  passport.authenticate('space', { failureRedirect: '/', successReturnToOrRedirect: '/' }));
app.post('/auth/signout', spaceSignOut({ strategy, redis, keyPrefix: `${prefix}space:` }));

app.get('/', (req, res) => res.send(req.user ? 'signed in' : 'signed out'));
app.get('/me', (req, res) => res.json({ user: req.user, tokenExpiresAt: req.spaceTokens?.expiresAt }));
app.use(spaceErrorHandler());

runApp(app, redis, { writes: () => writes.splice(0) }).catch((err) => {
  console.error(err);
  process.exit(1);
});
