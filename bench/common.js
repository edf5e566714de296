// Shared plumbing of the benchmark processes: the settings every process agrees on, a tiny
// request/answer protocol over the IPC channel of child_process.fork, and the bench-only
// hooks of an app process (its CPU time, its heap after GC, how many requests it served).
// The apps' own code (what a user would write) is in app-*.js.
'use strict';
const http = require('node:http');

/** The OAuth client every app uses; registered in the emulator. */
const CLIENT = { clientID: 'bench-client', clientSecret: 'bench-secret' };
const SESSION_SECRET = 'bench-session-secret';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
/** The profile fields both Space apps ask for (the library's default). */
const PROFILE_FIELDS = 'id,username,name(firstName,lastName),emails(email,verified),avatar,smallAvatar,profilePicture';

/** Wall-clock milliseconds with sub-ms precision, comparable across processes of this machine. */
const clock = () => performance.timeOrigin + performance.now();

/**
 * Answers requests from the parent: `handlers[cmd](args)` may return a value or a promise.
 * Every message is `{ id, cmd, args }`, every answer `{ id, result }` or `{ id, error }`.
 */
function serve(handlers) {
  process.on('message', async (msg) => {
    if (!msg || typeof msg.id !== 'number') return;
    try {
      const fn = handlers[msg.cmd];
      if (!fn) throw new Error(`unknown command ${msg.cmd}`);
      process.send({ id: msg.id, result: await fn(msg.args || {}) });
    } catch (err) {
      process.send({ id: msg.id, error: String(err && err.stack || err) });
    }
  });
  // The parent died or closed the channel: nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
}

/** The parent's side of {@link serve}: `call(cmd, args)` resolves with the child's answer. */
function client(child) {
  let next = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    const p = msg && pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if ('error' in msg) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  });
  child.on('exit', (code, signal) => {
    for (const p of pending.values()) p.reject(new Error(`child exited (${code ?? signal})`));
    pending.clear();
  });
  return (cmd, args) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    child.send({ id, cmd, args });
  });
}

/**
 * Longest wait for one Redis command, ms: README "Quick start" says 2000. BENCH_REDIS_TIMEOUT
 * raises it for an app that runs many times slower than usual (instructions.js runs the apps under
 * valgrind, where a burst of 100 requests keeps Redis answers waiting for seconds): a timeout there
 * would measure an error path, not the app.
 */
const REDIS_TIMEOUT = Number(process.env.BENCH_REDIS_TIMEOUT || 2000);

/** A client options object as README "Quick start" gives it (fail fast while Redis is down). */
const redisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: REDIS_TIMEOUT, commandTimeout: REDIS_TIMEOUT };

/** Waits for an ioredis client to be ready (with enableOfflineQueue false, commands before that fail). */
function ready(redis) {
  return new Promise((resolve, reject) => {
    if (redis.status === 'ready') return resolve();
    redis.once('ready', resolve);
    redis.once('error', reject);
  });
}

/**
 * Runs an app: listens on a free loopback port, counts the requests its server was given, and
 * answers the parent's `stats` (CPU time, requests served, heap after GC). Resolves with the port.
 */
async function runApp(app, redis, extra = {}) {
  let served = 0;
  // Redis commands this process sent (sessions, locks, token copies): a cause of CPU and latency.
  let redisCommands = 0;
  const sendCommand = redis.sendCommand;
  redis.sendCommand = function countedSendCommand(...args) {
    redisCommands += 1;
    return sendCommand.apply(this, args);
  };
  const server = http.createServer(app);
  server.on('request', () => { served += 1; });
  server.keepAliveTimeout = 60_000;
  await ready(redis);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  let profiler;
  serve({
    // BENCH_PROF: a CPU profile of exactly one measured phase (node:inspector), written to `file`.
    profile: async ({ start, file }) => {
      const post = (method, params) => new Promise((resolve, reject) => profiler.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
      if (start) {
        const inspector = require('node:inspector');
        profiler ??= new inspector.Session();
        try { profiler.connect(); } catch { /* already connected */ }
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: 200 });
        await post('Profiler.start');
        return true;
      }
      const { profile } = await post('Profiler.stop');
      require('node:fs').writeFileSync(file, JSON.stringify(profile));
      return true;
    },
    stats: ({ gc }) => {
      if (gc === 'minor') {
        // A scavenge only: empties the young generation and leaves the old one (and the optimized
        // code whose maps live there) alone. A full GC makes V8 re-optimize dozens of functions.
        global.gc({ type: 'minor' });
      } else if (gc) {
        // Twice: the first pass can leave objects that only die once finalizers ran.
        global.gc();
        global.gc();
      }
      const cpu = process.cpuUsage();
      return { cpuMicros: cpu.user + cpu.system, served, redisCommands, memory: process.memoryUsage() };
    },
    ...extra,
  });
  process.send({ ready: true, port: server.address().port });
}

/** Deletes every Redis key under a run's `prefix` (the orchestrators call it when they stop); resolves with the count. */
async function deleteKeys(prefix) {
  const Redis = require('ioredis');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  let cursor = '0';
  let deleted = 0;
  try {
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  return deleted;
}

module.exports = { CLIENT, SESSION_SECRET, REDIS_URL, REDIS_TIMEOUT, PROFILE_FIELDS, clock, serve, client, redisOptions, ready, runApp, deleteKeys };
