// What every test worker process shares: the README's app shape around a given Redis client
// (express-session + connect-redis, passport, SpaceStrategy with redis given once,
// spaceTokenRefresh), the sign-in routes, and listening once the client is ready. Each worker
// adds its own routes before calling listen().
'use strict';
const http = require('node:http');
const { createHash } = require('node:crypto');
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const { SpaceStrategy, spaceTokenRefresh } = require('passport-jetbrains-space');

const fingerprint = (token) => (token ? createHash('sha256').update(token).digest('hex').slice(0, 16) : null);

/**
 * @param {{ config: any, redis: any, RedisStore: any, strategy?: object, landing: string }} o
 */
function workerApp({ config, redis, RedisStore, strategy: extra = {}, landing }) {
  const strategy = new SpaceStrategy(
    { spaceURL: config.spaceURL, clientID: config.clientID, clientSecret: config.clientSecret, callbackURL: '/auth/space/callback',
      // Tests sign in far more often than people do, from one address: the rate limits are tested
      // on their own (__tests__/rate-limits), which give them in `extra`.
      redis, keyPrefix: `${config.prefix}space:`, rateLimit: false, ...extra, ...(config.strategy || {}) },
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
  app.get('/auth/space/callback', passport.authenticate('space', { failureRedirect: '/failed' }),
    (req, res) => res.redirect((req.authInfo && req.authInfo.returnTo) || landing));
  return { app, strategy };
}

/** Listens on a free port (told on stdout) and closes cleanly on SIGTERM. */
function listen(app, close) {
  const server = http.createServer(app).listen(0, '127.0.0.1', () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => { Promise.resolve(close()).catch(() => undefined).then(() => process.exit(0)); });
  });
}

module.exports = { workerApp, listen, fingerprint };
