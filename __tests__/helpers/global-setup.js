// Jest's global set-up: the tests' shared Redis. When nothing answers at REDIS_URL (default
// 127.0.0.1:6379), a redis-server of the run's own is started on a free port and REDIS_URL points
// at it for every test worker (they start after this), so `npm ci && npm test` works where Redis
// is installed but not running. Stopped by pid in global-teardown.js.
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');

const answers = (url) => new Promise((resolve) => {
  const { hostname, port } = new URL(url);
  const socket = net.connect({ host: hostname, port: Number(port || 6379) });
  const done = (ok) => { socket.destroy(); resolve(ok); };
  socket.setTimeout(1000, () => done(false));
  socket.once('error', () => done(false));
  socket.once('connect', () => socket.write('PING\r\n'));
  socket.once('data', (data) => done(String(data).startsWith('+PONG') || String(data).startsWith('-NOAUTH')));
});

const freePort = () => new Promise((resolve, reject) => {
  const server = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
});

module.exports = async function globalSetup() {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (await answers(url)) return;
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore', detached: true });
  child.unref();
  const own = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100 && !(await answers(own)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answers(own))) throw new Error(`No Redis at ${url}, and redis-server could not be started (is it installed? apt-get install redis-server)`);
  process.stdout.write(`\ntests: no Redis answered at ${url}; started redis-server on port ${port} for this run\n`);
  process.env.REDIS_URL = own;
  process.env.PJS_TEST_REDIS_PID = String(child.pid);
};
