// One process of the multi-process app-client test: the built package, loaded by its name, with
// spaceAppClient on a shared Redis. Config comes in WORKER_CONFIG; the port goes out on stdout.
'use strict';
const http = require('node:http');
const { createHash } = require('node:crypto');
const Redis = require('ioredis');
const { spaceAppClient } = require('passport-jetbrains-space');

const config = JSON.parse(process.env.WORKER_CONFIG);
const redis = new Redis(config.redisURL, { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
const app = spaceAppClient({ spaceURL: config.spaceURL, clientID: config.clientID, clientSecret: config.clientSecret, redis, keyPrefix: config.prefix });

const server = http.createServer((req, res) => {
  app.token().then(
    (token) => res.end(JSON.stringify({ pid: process.pid, token: createHash('sha256').update(token.accessToken).digest('hex').slice(0, 16) })),
    (err) => { res.statusCode = 500; res.end(JSON.stringify({ error: err.message })); },
  );
});
redis.once('ready', () => {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => { redis.disconnect(); process.exit(0); });
});
