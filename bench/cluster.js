// The Cluster phase of the benchmark: the library app on a 3-master Redis Cluster (ioredis
// `Cluster` + connect-redis 8, as docs/several-instances.md sets it up) beside the same app on the
// single node, in interleaved rounds: the fresh-token GET, and the renewal burst.
// The cluster is started here on free ports, its files in a temp dir, and stopped by pid.
'use strict';
const { execFile, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');

const run = promisify(execFile);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const cli = (port, ...args) => run('redis-cli', ['-p', String(port), ...args], { timeout: 5000 }).then((r) => r.stdout);

/** Three masters, no replicas (nothing fails over here): what a sharded deployment serves from. */
async function startCluster() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pjs-bench-cluster-'));
  const ports = [];
  while (ports.length < 3) {
    const p = await freePort();
    // The cluster bus listens on port + 10000.
    if (p < 55_000 && !ports.includes(p)) ports.push(p);
  }
  const children = ports.map((port) => spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`),
  ], { stdio: 'ignore' }));
  const stop = async () => {
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? null : new Promise((r) => { c.once('exit', r); c.kill('SIGKILL'); }))));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => { for (const c of children) c.kill('SIGKILL'); });
  try {
    await until('redis-server', 10_000, async () => (await Promise.all(ports.map((p) => cli(p, 'PING')))).every((o) => o.trim() === 'PONG'));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await until('cluster_state:ok', 30_000, async () => (await Promise.all(ports.map((p) => cli(p, 'CLUSTER', 'INFO')))).every((o) => o.includes('cluster_state:ok')));
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports, stop };
}

/**
 * Runs the phase; `h` is run.js's toolbox: { startApp, stop, L, emu, measured, median, log, CFG, long, short }.
 * Answers { fresh: { single, cluster }, burst: { single, cluster } } with per-round figures.
 */
async function clusterPhase(h) {
  const { startApp, stop, L, emu, measured, median, log, CFG, long, short } = h;
  log('cluster: starting 3 masters');
  const cluster = await startCluster();
  const env = { BENCH_CLUSTER: cluster.ports.join(',') };
  const out = { fresh: { single: [], cluster: [] }, burst: { single: [], cluster: [] } };
  try {
    const fresh = { single: await startApp('library', long), cluster: await startApp('library', long, env) };
    const cookie = {};
    for (const kind of Object.keys(fresh)) {
      const s = await L('signIn', { base: fresh[kind].base, count: 1, concurrency: 1 });
      if (!s.ok) throw new Error(`cluster phase, sign-in to ${kind} failed: ${JSON.stringify(s.failure)}`);
      cookie[kind] = s.cookies[0];
      await L('get', { base: fresh[kind].base, cookies: [cookie[kind]], concurrency: CFG.concurrency, count: 2000 });
    }
    log('cluster: fresh-token GET rounds');
    for (let r = 0; r < CFG.rounds; r++) {
      for (const kind of Object.keys(fresh)) {
        const m = await measured(fresh[kind], () => L('get', { base: fresh[kind].base, cookies: [cookie[kind]], concurrency: CFG.concurrency, count: CFG.freshCount, maxMs: CFG.freshMaxMs }));
        if (m.result.ok !== m.result.count) throw new Error(`cluster phase, ${kind}: ${JSON.stringify(m.result.statuses)}`);
        out.fresh[kind].push({ cpuPerReq: m.cpuMicros / m.served, rps: m.result.rps, p99: m.result.p99, redisPerReq: m.redisCommands / m.served });
      }
    }
    await Promise.all(Object.values(fresh).map(stop));

    const renew = { single: await startApp('library', short), cluster: await startApp('library', short, env) };
    const prepared = {};
    for (const kind of Object.keys(renew)) {
      const s = await L('signIn', { base: renew[kind].base, count: CFG.burstRounds, concurrency: 4 });
      if (s.ok !== s.count) throw new Error(`cluster phase, ${kind} sign-in: ${JSON.stringify(s.failure)}`);
      prepared[kind] = s.cookies;
      await L('warm', { targets: [{ base: renew[kind].base, n: CFG.burst }] });
    }
    await sleep(CFG.shortTTL * 1000 + 500);
    log('cluster: renewal bursts');
    for (let r = 0; r < CFG.burstRounds; r++) {
      for (const kind of Object.keys(renew)) {
        await emu.call('reset', { which: 'short' });
        const b = await L('burst', { targets: [{ base: renew[kind].base, n: CFG.burst }], cookie: prepared[kind].shift() });
        const counts = await emu.call('counts', { which: 'short' });
        out.burst[kind].push({ tokenRequests: counts.refresh, ok: b.ok, count: b.count, p50: b.p50, p99: b.p99 });
      }
    }
    await Promise.all(Object.values(renew).map(stop));
  } finally {
    await cluster.stop();
  }
  const summary = {};
  for (const kind of ['single', 'cluster']) {
    const f = out.fresh[kind];
    summary[kind] = {
      cpuPerReq: median(f.map((x) => x.cpuPerReq)), rps: median(f.map((x) => x.rps)), p99: median(f.map((x) => x.p99)), redisPerReq: median(f.map((x) => x.redisPerReq)),
      burst: out.burst[kind],
    };
  }
  summary.cpuRatios = out.fresh.cluster.map((x, r) => x.cpuPerReq / out.fresh.single[r].cpuPerReq);
  summary.rpsRatios = out.fresh.cluster.map((x, r) => x.rps / out.fresh.single[r].rps);
  return summary;
}

module.exports = { clusterPhase };
