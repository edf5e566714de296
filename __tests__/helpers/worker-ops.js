// One app process for the production tests (session lifetimes, rate limits, Space's events):
// the README's app on ioredis 5 and connect-redis 8, with the shared settings given in
// WORKER_CONFIG.shared, the app's endpoint for Space (verifySpaceRequest with the endpoint signing
// key, then spaceEvents), and /events listing what onEvent received (no token or id in them).
'use strict';
const express = require('express');
const { Redis } = require('ioredis');
const { RedisStore } = require('connect-redis');
const { spaceErrorHandler, spaceEvents, spaceRawBody, verifySpaceRequest } = require('passport-jetbrains-space');
const { workerApp, listen } = require('./worker-base.js');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: 2000 });
redis.on('error', () => undefined);

const events = [];
const { app, strategy } = workerApp({
  config, redis, RedisStore, landing: '/api/me',
  strategy: { ...config.shared, onEvent: (e) => { if (events.length < 10_000) events.push({ event: e.event, reason: e.reason }); } },
});
if (config.trustProxy !== undefined) app.set('trust proxy', config.trustProxy);
app.get('/api/me', (req, res) => res.json({ pid: process.pid, signedIn: Boolean(req.user), user: req.user ? req.user.username : null }));
app.get('/page', (req, res) => res.type('html').send(`<p>${req.user ? 'signed in' : 'anonymous'}</p>`));
app.get('/events', (_req, res) => res.json(events));
app.post('/space/endpoint', express.json({ verify: spaceRawBody }),
  verifySpaceRequest({ strategy, signingKey: config.signingKey || 'not-used-by-this-test', methods: ['signing-key'] }),
  spaceEvents({ strategy }),
  (_req, res) => res.json({ other: true }));
app.use(spaceErrorHandler());
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express tells error handlers by their four parameters.
app.use((err, _req, res, _next) => res.status(500).json({ name: err.name, message: String(err.message).split('\n')[0] }));

redis.once('ready', () => listen(app, () => redis.disconnect()));
