// App (a), the baseline: the same sessions and Passport as the other two, no OAuth at all.
// A bench-only route signs a session in with a user shaped like the Space profile the other
// apps keep, so /me reads and answers the same amount of data.
// Environment: BENCH_PREFIX (Redis key prefix of this run).
'use strict';
const express = require('express');
const session = require('express-session');
const { RedisStore } = require('connect-redis');
const Redis = require('ioredis');
const passport = require('passport');
const { SESSION_SECRET, REDIS_URL, redisOptions, runApp } = require('./common.js');

const prefix = process.env.BENCH_PREFIX;
const redis = new Redis(REDIS_URL, redisOptions);

passport.serializeUser((user, done) => done(null, user));
passport.deserializeUser((user, done) => done(null, user));

// What the emulator's profiles/me answers for john.doe with the library's $fields, and the
// Passport profile made of it (the bench's members are all shaped like john.doe, see emulator.js).
const json = {
  id: '2asfen24Jx6u', username: 'john.doe', name: { firstName: 'John', lastName: 'Doe' },
  emails: [{ email: 'john.doe@example.com', verified: true }],
  avatar: '40uDKb4RHdsst', smallAvatar: 'vYK0b1Qisdf2C', profilePicture: '3xUq0n1Qd9xY',
};
const space = process.env.SPACE_URL || 'http://127.0.0.1:1';
const seedUser = {
  provider: 'space', id: json.id, username: json.username, displayName: 'John Doe',
  name: { givenName: 'John', familyName: 'Doe' }, emails: [{ value: 'john.doe@example.com', verified: true }],
  photos: ['3xUq0n1Qd9xY', '40uDKb4RHdsst', 'vYK0b1Qisdf2C'].map((id) => ({ value: `${space}/d/${id}` })),
  _raw: JSON.stringify(json), _json: json,
};

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

// Bench only: stands in for a sign-in.
app.get('/bench/seed', (req, res, next) => req.login(seedUser, (err) => (err ? next(err) : res.redirect('/'))));

app.get('/', (req, res) => res.send(req.user ? 'signed in' : 'signed out'));
app.get('/me', (req, res) => res.json({ user: req.user, tokenExpiresAt: undefined }));

runApp(app, redis).catch((err) => {
  console.error(err);
  process.exit(1);
});
