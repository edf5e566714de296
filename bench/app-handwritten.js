// App (b): what an app without this library would write: passport-oauth2 pointed at Space,
// passport-oauth2-refresh for renewals, the tokens kept in the session inside the user object
// (Passport regenerates the session at login, so that is where a verify callback can put them).
// Environment: SPACE_URL, BENCH_PREFIX (Redis key prefix of this run).
'use strict';
const querystring = require('node:querystring');
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { Strategy: OAuth2Strategy, InternalOAuthError } = require('passport-oauth2');
const refresh = require('passport-oauth2-refresh');
const { CLIENT, SESSION_SECRET, REDIS_URL, PROFILE_FIELDS, redisOptions, runApp } = require('./common.js');

const prefix = process.env.BENCH_PREFIX;
const SPACE = process.env.SPACE_URL;
const redis = new Redis(REDIS_URL, redisOptions);

const strategy = new OAuth2Strategy({
  authorizationURL: `${SPACE}/oauth/auth`,
  tokenURL: `${SPACE}/oauth/token`,
  clientID: CLIENT.clientID,
  clientSecret: CLIENT.clientSecret,
  callbackURL: '/auth/space/callback',
  scope: 'global:Profile.View',
  state: true,
  pkce: true,
  // Space wants HTTP Basic client authentication.
  customHeaders: { Authorization: `Basic ${Buffer.from(`${CLIENT.clientID}:${CLIENT.clientSecret}`).toString('base64')}` },
}, (accessToken, refreshToken, params, profile, done) => done(null, {
  ...profile,
  tokens: { accessToken, refreshToken, expiresAt: Date.now() + params.expires_in * 1000 },
}));
strategy.name = 'space';
// A refresh token needs access_type=offline.
strategy.authorizationParams = () => ({ access_type: 'offline' });
// The bearer token in a header (node-oauth puts it in the query string by default).
strategy._oauth2.useAuthorizationHeaderforGET(true);
// node-oauth always adds client_secret to the body, and Space refuses two client authentication
// methods at once: send the form without it (the Basic header carries the secret).
strategy._oauth2.getOAuthAccessToken = function getOAuthAccessToken(code, params, callback) {
  const form = { ...params, client_id: this._clientId, [params.grant_type === 'refresh_token' ? 'refresh_token' : 'code']: code };
  this._request('POST', this._getAccessTokenUrl(), { 'Content-Type': 'application/x-www-form-urlencoded' },
    querystring.stringify(form), null, (err, data) => {
      if (err) return callback(err);
      let results;
      try { results = JSON.parse(data); } catch (e) { return callback(e); }
      const refreshToken = results.refresh_token;
      delete results.refresh_token;
      callback(null, results.access_token, refreshToken, results);
    });
};
strategy.userProfile = function userProfile(accessToken, done) {
  const url = `${SPACE}/api/http/team-directory/profiles/me?$fields=${encodeURIComponent(PROFILE_FIELDS)}`;
  this._oauth2.get(url, accessToken, (err, body) => {
    if (err) return done(new InternalOAuthError('failed to fetch user profile', err));
    let json;
    try { json = JSON.parse(body); } catch (e) { return done(e); }
    const name = json.name || {};
    done(null, {
      provider: 'space',
      id: json.id,
      username: json.username,
      displayName: [name.firstName, name.lastName].filter(Boolean).join(' ') || json.username,
      name: { givenName: name.firstName, familyName: name.lastName },
      emails: (json.emails || []).map((e) => ({ value: e.email, verified: e.verified === true })),
      photos: [json.profilePicture, json.avatar, json.smallAvatar].filter(Boolean).map((id) => ({ value: `${SPACE}/d/${id}` })),
      _raw: body,
      _json: json,
    });
  });
};
passport.use(strategy);
refresh.use(strategy);
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
// Renew an expired access token before the route runs. req.user is the object stored in the
// session (serializeUser keeps it as is), so changing it changes the session.
app.use((req, res, next) => {
  const tokens = req.user && req.user.tokens;
  if (!tokens || Date.now() < tokens.expiresAt) return next();
  refresh.requestNewAccessToken('space', tokens.refreshToken, (err, accessToken, refreshToken, params) => {
    if (err) return next(err);
    req.user.tokens = {
      accessToken,
      refreshToken: refreshToken || tokens.refreshToken,
      expiresAt: Date.now() + params.expires_in * 1000,
    };
    next();
  });
});

app.get('/auth/space', passport.authenticate('space'));
app.get('/auth/space/callback',
  passport.authenticate('space', { failureRedirect: '/', successReturnToOrRedirect: '/' }));

app.get('/', (req, res) => res.send(req.user ? 'signed in' : 'signed out'));
app.get('/me', (req, res) => {
  if (!req.user) return res.json({ user: undefined });
  const { tokens, ...user } = req.user;
  res.json({ user, tokenExpiresAt: tokens.expiresAt });
});

runApp(app, redis).catch((err) => {
  console.error(err);
  process.exit(1);
});
