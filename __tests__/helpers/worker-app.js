// One app process for the multi-process tests: the same setup as the README, loading the
// built package by its name. Config comes in WORKER_CONFIG; the port goes out on stdout.
// `topology` picks the Redis client and the connect-redis line that goes with it:
//   single (default): ioredis 5 on `redisURL`, connect-redis 8
//   ioredis6: ioredis 6 on `redisURL`, connect-redis 8
//   cluster: ioredis 5 Cluster on `nodes`, connect-redis 8
//   sentinel: ioredis 5 on `sentinels` / `name`, connect-redis 8
//   node-redis: node-redis 5 createClient on `redisURL`, connect-redis 9
//   node-redis-cluster: node-redis 5 createCluster on `nodes`, connect-redis 9
'use strict';
const { spaceErrorHandler, spaceSignOut } = require('passport-jetbrains-space');
const { workerApp, listen, fingerprint } = require('./worker-base.js');

const config = JSON.parse(process.env.WORKER_CONFIG);
const topology = config.topology || 'single';
const timeout = config.redisTimeout || 2000;
// Fail fast (README): no offline queue, one retry, command timeouts.
const failFast = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: timeout, commandTimeout: timeout };

function makeClient() {
  if (topology === 'single') return new (require('ioredis').Redis)(config.redisURL, failFast);
  if (topology === 'ioredis6') return new (require('ioredis6').Redis)(config.redisURL, failFast);
  if (topology === 'sentinel') return new (require('ioredis').Redis)({ sentinels: config.sentinels, name: config.name, ...failFast });
  if (topology === 'cluster') {
    return new (require('ioredis').Cluster)(config.nodes, { enableOfflineQueue: false, redisOptions: failFast });
  }
  const { createClient, createCluster } = require('redis');
  if (topology === 'node-redis') return createClient({ url: config.redisURL, disableOfflineQueue: true, socket: { connectTimeout: timeout } });
  if (topology === 'node-redis-cluster') {
    return createCluster({ rootNodes: config.nodes.map((n) => ({ url: `redis://${n.host}:${n.port}` })), defaults: { disableOfflineQueue: true, socket: { connectTimeout: timeout } } });
  }
  throw new Error(`unknown topology ${topology}`);
}
const nodeRedis = topology.startsWith('node-redis');
const redis = makeClient();
redis.on('error', () => undefined);
// connect-redis 9+ takes node-redis only; ioredis stays on connect-redis 8.
const { RedisStore } = nodeRedis ? require('connect-redis9') : require('connect-redis');

const { app, strategy } = workerApp({ config, redis, RedisStore, strategy: { redisTimeout: timeout }, landing: '/api/token' });
app.post('/auth/signout', spaceSignOut({ strategy }));
app.get('/api/token', (req, res) => {
  res.json({ pid: process.pid, signedIn: Boolean(req.user), token: fingerprint(req.spaceTokens && req.spaceTokens.accessToken) });
});
// Holds the session it loaded for `ms` and then writes it back (a slow request's older copy).
app.post('/api/slow', async (req, res) => {
  req.session.note = `slow ${Date.now()}`;
  await new Promise((r) => setTimeout(r, Number(req.query.ms) || 500));
  res.json({ pid: process.pid, signedIn: Boolean(req.user), token: fingerprint(req.spaceTokens && req.spaceTokens.accessToken) });
});
app.use(spaceErrorHandler());
// Anything spaceErrorHandler did not answer: a 500 the tests count as a defect.
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express tells error handlers by their four parameters.
app.use((err, _req, res, _next) => res.status(500).json({ name: err.name, message: String(err.message).split('\n')[0] }));

const start = () => listen(app, () => (nodeRedis ? redis.destroy() : redis.disconnect()));
// Connect before listening (with no offline queue, nothing may run before the client is ready).
if (nodeRedis) redis.connect().then(start, (err) => { console.error(err); process.exit(1); });
else redis.once('ready', start);
