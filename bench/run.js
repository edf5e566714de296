#!/usr/bin/env node
// The benchmark's orchestrator: starts the emulator, the load generator and the app processes,
// runs the scenarios in interleaved rounds, prints a table and writes bench/RESULTS.md, then
// stops every process it started and deletes its Redis keys. Nothing here is a pass/fail test.
//
//   npm run bench                 full run (~10 min)
//   npm run bench -- --quick      quick run (~2 min); same as BENCH_QUICK=1
//   BENCH_SCALE=0.1               scales the memory counts (10,000 sign-ins/renewals at 1)
//   BENCH_ROUNDS, BENCH_CONCURRENCY, BENCH_RESULTS (path, or "-" to only print)
'use strict';
const { execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { client, deleteKeys } = require('./common.js');
const { clusterPhase } = require('./cluster.js');
const { shares } = require('./shares.js');

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
// BENCH_ONLY=requests: the fresh-token GET and sign-in rounds only (to iterate on CPU figures).
const requestsOnly = process.env.BENCH_ONLY === 'requests' || process.env.BENCH_ONLY === 'signin';
// BENCH_ONLY=signin: the sign-in rounds only (the fresh-token GET rounds are skipped), to profile sign-ins.
const signInOnly = process.env.BENCH_ONLY === 'signin';
const num = (name, fallback) => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);
const CFG = {
  mode: quick ? 'quick' : 'full',
  rounds: num('BENCH_ROUNDS', quick ? 7 : 15),
  concurrency: num('BENCH_CONCURRENCY', 16),
  // Rounds of several seconds each: shorter ones let one GC pause or scheduling hiccup move a round's ratio by 20%.
  freshCount: quick ? 1500 : 8000,
  freshMaxMs: 15_000,
  signInCount: quick ? 60 : 400,
  signInConcurrency: 8,
  burst: 1000,
  burstRounds: quick ? 1 : 3,
  singles: 5,
  crossPerProcess: 100,
  crossProcesses: 3,
  memory: Math.round(10_000 * num('BENCH_SCALE', quick ? 0.1 : 1)),
};
const prefix = `pjs-bench:${randomBytes(6).toString('hex')}:`;
const children = new Set();

/**
 * BENCH_PIN (on by default with 2 or more cores and taskset): every app process runs on the last
 * core alone, the orchestrator, the load generator and the emulator on the others, so the app's
 * CPU time is not stretched by sharing its core with the processes that drive it. "0" turns it off.
 */
const pinned = process.env.BENCH_PIN !== '0' && os.cpus().length >= 2 && (() => {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const APP_CORE = String(os.cpus().length - 1);
const OTHER_CORES = `0-${os.cpus().length - 2}`;
function pin(pid, cores) {
  // -a: every thread the process has; threads it makes later inherit from them.
  if (pinned) execFileSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
}
pin(process.pid, OTHER_CORES);

function start(file, env = {}, execArgv = [], pinApp = true) {
  const child = fork(path.join(__dirname, file), [], {
    env: { ...process.env, BENCH_PREFIX: prefix, ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const cores = !file.startsWith('app-') ? OTHER_CORES : pinApp ? APP_CORE : `0-${APP_CORE}`;
  pin(child.pid, cores);
  children.add(child);
  child.on('exit', () => children.delete(child));
  const call = client(child);
  return new Promise((resolve, reject) => {
    const onExit = (code) => reject(new Error(`${file} exited (${code}) before it was ready`));
    child.once('exit', onExit);
    child.on('message', function onReady(msg) {
      if (!msg || !msg.ready) return;
      child.off('message', onReady);
      child.off('exit', onExit);
      // Again once it is up: threads started while it booted.
      pin(child.pid, cores);
      resolve({ child, call, info: msg });
    });
  });
}

/**
 * BENCH_PROF=<dir>: a CPU profile of each measured phase (fresh GETs, sign-in starts, sign-in
 * callbacks) of every round, for the apps named in BENCH_PROF_APPS (comma-separated kinds,
 * default "library"): `<dir>/<app>-<phase>-<round>.cpuprofile`. Profiling costs CPU: figures of
 * a profiled run are not comparable with others.
 */
function profiled(kind) {
  return !!process.env.BENCH_PROF && (process.env.BENCH_PROF_APPS || 'library').split(',').includes(kind);
}
let profileRound = 0;
/** The profiles this run wrote, for bench/shares.js. */
const profiles = [];

async function startApp(kind, spaceURL, env = {}, pinApp = true) {
  const app = await start(`app-${kind}.js`, { SPACE_URL: spaceURL, ...env }, ['--expose-gc'], pinApp);
  app.kind = kind;
  app.base = `http://127.0.0.1:${app.info.port}`;
  return app;
}

function stop(proc) {
  if (!proc || proc.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.child.once('exit', resolve);
    // A profiled process must exit on its own to write its profile (it exits on disconnect).
    proc.child.kill('SIGTERM');
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
const mib = (b) => fmt(b / 1024 / 1024, 1);
const log = (...a) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const NAMES = { baseline: '(a) baseline', handwritten: '(b) hand-written', library: '(c) this library' };

/** CPU time (µs) an app spent, and requests it served, while `fn` ran. */
async function measured(app, fn, phase) {
  // A full GC first, so no round inherits another's garbage to collect.
  const before = await app.call('stats', { gc: true });
  const prof = phase && profiled(app.kind);
  if (prof) await app.call('profile', { start: true });
  const result = await fn();
  const file = prof && path.join(process.env.BENCH_PROF, `${app.kind}-${phase}-${profileRound++}.cpuprofile`);
  if (prof) await app.call('profile', { file });
  const after = await app.call('stats', {});
  // What the phase served: sign-ins completed, else requests.
  if (prof) profiles.push({ file, kind: app.kind, phase, units: typeof result?.ok === 'number' && phase !== 'fresh' ? result.ok : after.served - before.served });
  return {
    result,
    cpuMicros: after.cpuMicros - before.cpuMicros,
    served: after.served - before.served,
    redisCommands: after.redisCommands - before.redisCommands,
  };
}

async function main() {
  const t0 = Date.now();
  log(`mode ${CFG.mode}, prefix ${prefix}`);
  const emu = await start('emulator.js', { BENCH_SHORT_TTL: process.env.BENCH_SHORT_TTL || '8' });
  const { long, short, shortTTL } = emu.info;
  const load = await start('load.js');
  const L = load.call;
  const out = { cfg: CFG };

  // ---- Phase 1: fresh tokens and sign-ins (emulator with 600 s tokens) ----
  const apps = {};
  for (const kind of ['baseline', 'handwritten', 'library']) apps[kind] = await startApp(kind, long);
  const cookie = {
    baseline: (await L('seed', { base: apps.baseline.base, count: 1 }))[0],
  };
  for (const kind of ['handwritten', 'library']) {
    const s = await L('signIn', { base: apps[kind].base, count: 1, concurrency: 1 });
    if (!s.ok) throw new Error(`sign-in to ${kind} failed: ${JSON.stringify(s.failure)}`);
    cookie[kind] = s.cookies[0];
  }
  for (const kind of Object.keys(apps)) {
    const check = await L('get', { base: apps[kind].base, cookies: [cookie[kind]], concurrency: 1, count: 1 });
    if (check.ok !== 1) throw new Error(`${kind} /me answered ${JSON.stringify(check.statuses)}`);
    if (!check.signedIn) throw new Error(`${kind} /me answered for a signed-out session: the bench's cookie does not sign in`);
    // Warm-up: JIT, connection pools.
    if (!signInOnly) await L('get', { base: apps[kind].base, cookies: [cookie[kind]], concurrency: CFG.concurrency, count: 2000 });
  }
  log('fresh-token GET rounds');
  const fresh = { baseline: [], handwritten: [], library: [] };
  for (let r = 0; r < (signInOnly ? 1 : CFG.rounds); r++) {
    for (const kind of Object.keys(apps)) {
      const m = await measured(apps[kind], () => L('get', {
        base: apps[kind].base, cookies: [cookie[kind]], concurrency: CFG.concurrency, count: CFG.freshCount, maxMs: CFG.freshMaxMs,
      }), 'fresh');
      if (m.result.ok !== m.result.count) throw new Error(`${kind}: ${JSON.stringify(m.result.statuses)} ${m.result.firstError || ''}`);
      fresh[kind].push({ cpuPerReq: m.cpuMicros / m.served, rps: m.result.rps, p99: m.result.p99, redisPerReq: m.redisCommands / m.served });
    }
  }
  out.fresh = {};
  for (const kind of Object.keys(fresh)) {
    out.fresh[kind] = {
      cpuPerReq: median(fresh[kind].map((x) => x.cpuPerReq)),
      rps: median(fresh[kind].map((x) => x.rps)),
      p99: median(fresh[kind].map((x) => x.p99)),
      redisPerReq: median(fresh[kind].map((x) => x.redisPerReq)),
      // Ratios to the baseline's run of the same round, whose conditions were closest.
      cpuRatios: fresh[kind].map((x, r) => x.cpuPerReq / fresh.baseline[r].cpuPerReq),
      rpsRatios: fresh[kind].map((x, r) => x.rps / fresh.baseline[r].rps),
    };
  }

  log('sign-in rounds');
  const signIns = { handwritten: [], library: [] };
  for (const kind of Object.keys(signIns)) await L('signIn', { base: apps[kind].base, count: 50, concurrency: CFG.signInConcurrency }); // warm-up
  for (let r = 0; r < CFG.rounds; r++) {
    for (const kind of Object.keys(signIns)) {
      // Measured in two halves, so the callback's own cost (code exchange + profile) stands alone.
      const begin = await measured(apps[kind], () => L('signInStart', { base: apps[kind].base, count: CFG.signInCount, concurrency: CFG.signInConcurrency }), 'start');
      if (begin.result.ok !== begin.result.count) throw new Error(`${kind} sign-in: ${JSON.stringify(begin.result.failure)}`);
      const m = await measured(apps[kind], () => L('signInFinish', { id: begin.result.id, concurrency: CFG.signInConcurrency }), 'callback');
      if (m.result.ok !== m.result.count) throw new Error(`${kind} sign-in: ${JSON.stringify(m.result.failure)}`);
      signIns[kind].push({
        cpuMsPerSignIn: m.cpuMicros / 1000 / m.result.ok,
        cpuMsTotal: (m.cpuMicros + begin.cpuMicros) / 1000 / m.result.ok,
        perSec: (m.result.ok / m.result.wallMs) * 1000,
        redis: m.redisCommands / m.result.ok,
      });
    }
  }
  out.signIn = {};
  for (const kind of Object.keys(signIns)) {
    out.signIn[kind] = {
      cpuMs: median(signIns[kind].map((x) => x.cpuMsPerSignIn)),
      cpuMsTotal: median(signIns[kind].map((x) => x.cpuMsTotal)),
      perSec: median(signIns[kind].map((x) => x.perSec)),
      redis: median(signIns[kind].map((x) => x.redis)),
    };
  }
  out.signIn.ratios = signIns.library.map((x, r) => x.cpuMsPerSignIn / signIns.handwritten[r].cpuMsPerSignIn);
  out.signIn.totalRatios = signIns.library.map((x, r) => x.cpuMsTotal / signIns.handwritten[r].cpuMsTotal);
  await Promise.all(Object.values(apps).map(stop));
  await emu.call('reset', { which: 'long' });
  if (process.env.BENCH_PROF) out.shares = shares(profiles);
  if (requestsOnly) {
    out.seconds = (Date.now() - t0) / 1000;
    await load.call('close').catch(() => {});
    await emu.call('close').catch(() => {});
    return out;
  }

  // ---- Phase 2: renewals (emulator with short-lived tokens) ----
  // Sessions are signed in ahead, then left to expire: the library renews when less than
  // min(60 s, half the lifetime) is left, the hand-written app once the token has expired.
  const expireWait = shortTTL * 1000 + 500;
  const renew = {};
  for (const kind of ['handwritten', 'library']) {
    const group = [];
    // Several app processes of one app: they share every core, as they would on a 2-core host.
    for (let i = 0; i < CFG.crossProcesses; i++) group.push(await startApp(kind, short, {}, false));
    renew[kind] = group;
  }
  log('renewal bursts');
  const prepared = {};
  for (const kind of Object.keys(renew)) {
    const s = await L('signIn', { base: renew[kind][0].base, count: CFG.singles + CFG.burstRounds * 2, concurrency: 4 });
    if (s.ok !== s.count) throw new Error(`${kind} sign-in: ${JSON.stringify(s.failure)}`);
    prepared[kind] = s.cookies;
    await L('warm', { targets: [{ base: renew[kind][0].base, n: CFG.burst }, ...renew[kind].slice(1).map((a) => ({ base: a.base, n: CFG.crossPerProcess }))] });
  }
  // The member burst, library only: per round, one member (a different one each round, from the
  // end of the list, which the rotation has not reached) signed in from CFG.crossProcesses
  // browsers, browser i through process i. The emulator approves that member alone meanwhile,
  // then the rotation over every member again. The hand-written app keeps no per-member token.
  const memberBrowsers = [];
  try {
    for (let r = 0; r < CFG.burstRounds; r++) {
      const username = await emu.call('approve', { which: 'short', member: -1 - r });
      const cookies = [];
      for (const app of renew.library) {
        const s = await L('signIn', { base: app.base, count: 1, concurrency: 1 });
        if (s.ok !== 1) throw new Error(`member sign-in: ${JSON.stringify(s.failure)}`);
        cookies.push(s.cookies[0]);
      }
      memberBrowsers.push({ username, cookies });
    }
  } finally {
    await emu.call('approve', { which: 'short' });
  }
  await sleep(expireWait);
  out.burst = {};
  out.cross = {};
  out.member = { rounds: [] };
  for (const kind of Object.keys(renew)) {
    const cookies = prepared[kind];
    const singles = [];
    for (let i = 0; i < CFG.singles; i++) {
      const one = await L('get', { base: renew[kind][0].base, cookies: [cookies.shift()], concurrency: 1, count: 1 });
      singles.push(one.p50);
    }
    out.burst[kind] = { single: median(singles), rounds: [] };
    out.cross[kind] = { rounds: [] };
  }
  // Interleaved: a burst of (b), of (c), a cross-process burst of (b), of (c), again...
  for (let r = 0; r < CFG.burstRounds; r++) {
    for (const kind of Object.keys(renew)) {
      await emu.call('reset', { which: 'short' });
      const sessionCookie = prepared[kind].shift();
      const b = await L('burst', { targets: [{ base: renew[kind][0].base, n: CFG.burst }], cookie: sessionCookie });
      const counts = await emu.call('counts', { which: 'short' });
      // The same burst again, now that the session's token is fresh: what queueing alone costs.
      const again = await L('burst', { targets: [{ base: renew[kind][0].base, n: CFG.burst }], cookie: sessionCookie });
      out.burst[kind].rounds.push({ tokenRequests: counts.refresh, ok: b.ok, count: b.count, p50: b.p50, p99: b.p99, freshP99: again.p99, statuses: b.statuses });
    }
    for (const kind of Object.keys(renew)) {
      await emu.call('reset', { which: 'short' });
      const reportsWrites = kind === 'library';
      if (reportsWrites) await Promise.all(renew[kind].map((a) => a.call('writes')));
      const b = await L('burst', { targets: renew[kind].map((a) => ({ base: a.base, n: CFG.crossPerProcess })), cookie: prepared[kind].shift() });
      // The winner's write, from its token.refreshed event (same clock as the load generator).
      const writes = reportsWrites ? (await Promise.all(renew[kind].map((a) => a.call('writes')))).flat() : [];
      const writeAt = writes.length ? Math.min(...writes) : NaN;
      const counts = await emu.call('counts', { which: 'short' });
      const answers = (await emu.call('tokenAnswers', { which: 'short' })).filter((a) => a.status === 200);
      const winnerAt = answers.length ? Math.min(...answers.map((a) => a.at)) : NaN;
      out.cross[kind].rounds.push({ tokenRequests: counts.refresh, ok: b.ok, count: b.count, p99: b.p99, winnerToLast: b.lastEnd - winnerAt, writeToLast: b.lastEnd - writeAt, statuses: b.statuses });
    }
    // The member burst (library): every browser's requests to a process other than the one it
    // signed in through, all at once; the member's refresh token is one, so want 1 token request.
    {
      const lib = renew.library;
      const { username, cookies } = memberBrowsers[r];
      await emu.call('reset', { which: 'short' });
      const b = await L('burst', { targets: cookies.map((cookie, i) => ({ base: lib[(i + 1) % lib.length].base, n: CFG.crossPerProcess, cookie })) });
      const counts = await emu.call('counts', { which: 'short' });
      out.member.rounds.push({ username, tokenRequests: counts.refresh, ok: b.ok, signedIn: b.signedIn, count: b.count, p99: b.p99, statuses: b.statuses, users: b.users.length });
    }
  }
  await Promise.all(Object.values(renew).flat().map(stop));

  // ---- Phase 3: memory over many sign-ins and renewals ----
  log(`memory: 2 × ${CFG.memory} sign-ins and renewals per app`);
  const mem = {};
  for (const kind of ['handwritten', 'library']) {
    const app = await startApp(kind, short);
    await L('signIn', { base: app.base, count: 50, concurrency: CFG.signInConcurrency });
    mem[kind] = { app, heap: [(await app.call('stats', { gc: true })).memory.heapUsed], ok: [] };
  }
  for (let pass = 0; pass < 2; pass++) {
    const cookies = {};
    for (const kind of Object.keys(mem)) {
      const s = await L('signIn', { base: mem[kind].app.base, count: CFG.memory, concurrency: CFG.concurrency });
      cookies[kind] = s.cookies;
      mem[kind].ok.push(s.ok);
      await emu.call('reset', { which: 'short' });
    }
    await sleep(expireWait);
    for (const kind of Object.keys(mem)) {
      const g = await L('get', { base: mem[kind].app.base, cookies: cookies[kind], concurrency: CFG.concurrency, count: cookies[kind].length, maxMs: 600_000 });
      const counts = await emu.call('counts', { which: 'short' });
      await emu.call('reset', { which: 'short' });
      const stats = await mem[kind].app.call('stats', { gc: true });
      mem[kind].heap.push(stats.memory.heapUsed);
      mem[kind][`renewed${pass}`] = { ok: g.ok, tokenRequests: counts.refresh };
      mem[kind].rss = stats.memory.rss;
    }
  }
  out.memory = {};
  for (const kind of Object.keys(mem)) {
    const [h0, h1, h2] = mem[kind].heap;
    out.memory[kind] = {
      base: h0, first: h1, second: h2, signIns: mem[kind].ok, renewed: [mem[kind].renewed0, mem[kind].renewed1],
      perSession: (h2 - h0) / (mem[kind].ok[0] + mem[kind].ok[1]), secondGrowth: h2 - h1, rss: mem[kind].rss,
    };
    await stop(mem[kind].app);
  }

  // ---- Phase 4: the library on a Redis Cluster beside the single node (bench/cluster.js) ----
  out.cluster = await clusterPhase({ startApp, stop, L, emu, measured, median, log, CFG: { ...CFG, shortTTL }, long, short });
  out.seconds = (Date.now() - t0) / 1000;
  await load.call('close').catch(() => {});
  await emu.call('close').catch(() => {});
  return out;
}

function machine() {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = (/^model name\s*:\s*(.*)$/m.exec(cpuinfo) || [])[1] || os.cpus()[0]?.model || 'unknown';
  // The machine's cores, not this process's (it is pinned to some of them).
  const nproc = os.cpus().length;
  return { nproc, model, node: process.version, date: new Date().toISOString(), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
}

function report(out) {
  const m = machine();
  const { fresh, signIn, burst, cross, memory, cluster, cfg } = out;
  const lines = [];
  const ratio = (xs) => `${fmt(median(xs), 3)} [${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)}]`;
  const table = (head, rows) => {
    lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
    for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
    lines.push('');
  };
  lines.push('# Benchmark results', '');
  lines.push(`${m.date.slice(0, 16).replace('T', ' ')} UTC, ${cfg.mode} run (${fmt(out.seconds)} s). Machine: ${m.nproc} cores, ${m.model}, Node ${m.node}, load average at the end ${m.loadavg}.`);
  lines.push('Every process (apps, emulator, load generator, Redis) on this machine; it is shared, so absolute figures are noisy: compare the ratios within one run.');
  lines.push(pinned
    ? `Each measured app process pinned to core ${APP_CORE} (the cross-process burst's three share every core), the load generator, the emulator and the orchestrator to core(s) ${OTHER_CORES} (BENCH_PIN; Redis is not pinned).`
    : 'No process pinned to a core (BENCH_PIN=0, one core, or no taskset).', '');

  lines.push(`## Signed-in GET /me with a fresh token`, '', `Median of ${cfg.rounds} interleaved rounds of ${fmt(cfg.freshCount)} requests at concurrency ${cfg.concurrency}; CPU is the app process's user + system time per request it served.`, '');
  table(['app', 'app CPU µs/request', 'req/s', 'p99 ms', 'Redis commands/request', 'CPU ÷ (a)', 'req/s ÷ (a)'], Object.keys(fresh).map((k) => [
    NAMES[k], fmt(fresh[k].cpuPerReq), fmt(fresh[k].rps), fmt(fresh[k].p99, 1), fmt(fresh[k].redisPerReq, 2), ratio(fresh[k].cpuRatios), ratio(fresh[k].rpsRatios),
  ]));
  lines.push(`Ratios: median of the per-round ratios to the baseline's run in the same round, [lowest–highest round]. Target for (c): CPU ÷ (a) ≤ 1.02, req/s ÷ (a) ≥ 0.98.`, '');

  lines.push(`## Sign-in callback (code exchange + profile)`, '', `Median of ${cfg.rounds} interleaved rounds of ${cfg.signInCount} browser-less sign-ins at concurrency ${cfg.signInConcurrency}: first all the starts (GET /auth/space, the emulator's auto-approval), then all the callbacks, the app's CPU measured over each half. "callback" is the app's CPU over the callbacks per completed sign-in; "whole sign-in" adds the start request.`, '');
  table(['app', 'callback: app CPU ms/sign-in', 'callbacks/s', 'callback: Redis commands', 'whole sign-in: app CPU ms'], ['handwritten', 'library'].map((k) => [NAMES[k], fmt(signIn[k].cpuMs, 3), fmt(signIn[k].perSec), fmt(signIn[k].redis, 1), fmt(signIn[k].cpuMsTotal, 3)]));
  lines.push(`Callback CPU, (c) ÷ (b): **${ratio(signIn.ratios)}** (median of per-round ratios [range]; target ≤ 0.75). Whole sign-in: ${ratio(signIn.totalRatios)}.`, '');

  if (out.shares?.length) {
    lines.push('## Where the app\'s CPU goes (BENCH_PROF)', '', 'From the CPU profile of each measured phase: the share of the app process\'s CPU spent in its sign-in code (for (c) this library\'s `dist/`; for (b) passport-oauth2, node-oauth, passport-oauth2-refresh and the app\'s own file), the rest being what every app runs (Express, express-session, Passport, ioredis, connect-redis, Node\'s HTTP, the sockets\' system calls, GC). Profiling slows the app, so the µs are the profiled run\'s; the share moves far less with the machine than CPU per request does. Median over rounds [range].', '');
    const phaseNames = { fresh: 'signed-in GET, fresh token', start: 'sign-in start', callback: 'sign-in callback' };
    table(['app', 'phase', 'rounds', 'sign-in code: share of app CPU', 'sign-in code µs per request', 'all app CPU µs per request (profiled)'],
      out.shares.filter((r) => r.kind !== 'baseline').map((r) => [NAMES[r.kind], phaseNames[r.phase] || r.phase, r.rounds, `${fmt(r.share * 100, 2)}% [${fmt(r.low * 100, 2)}–${fmt(r.high * 100, 2)}]`, fmt(r.ownMicros, 1), fmt(r.totalMicros)]));
  }

  if (!burst) return lines.join('\n');
  lines.push(`## Renewal burst: ${cfg.burst} concurrent requests of one session with an expired token`, '', `One app process; token requests counted at the emulator; ${cfg.burstRounds} round(s), the median shown. "single" is one request of an expired session alone (median of ${cfg.singles}).`, '');
  const med = (rs, f) => median(rs.map(f));
  table(['app', 'token requests', 'answered 200', 'p50 ms', 'p99 ms', 'single renewal ms', 'p99 ÷ single', 'same burst, fresh token: p99 ms'], Object.keys(burst).map((k) => {
    const rs = burst[k].rounds;
    return [NAMES[k], rs.map((r) => r.tokenRequests).join(', '), `${fmt(med(rs, (r) => r.ok))}/${cfg.burst}`, fmt(med(rs, (r) => r.p50), 1), fmt(med(rs, (r) => r.p99), 1), fmt(burst[k].single, 1), fmt(med(rs, (r) => r.p99) / burst[k].single, 1), fmt(med(rs, (r) => r.freshP99), 1)];
  }));
  lines.push('A burst of 1,000 on one process queues behind the CPU, so its p99 is mostly queueing: the last column is the same burst on the same session right after, with a fresh token.', '');

  lines.push(`## Cross-process burst: ${cfg.crossProcesses} app processes × ${cfg.crossPerProcess} concurrent requests of one session with an expired token`, '', 'Shared Redis. "winner → last answer" is the last response seen by the load generator minus the moment the emulator finished the (first) token answer, one clock. "winner\'s write → last answer" starts instead at the winner\'s write to Redis (its `token.refreshed` event): how fast the other processes learn of it (pub/sub).', '');
  table(['app', 'token requests', 'answered 200', 'p99 ms', 'winner → last answer ms', 'winner\'s write → last answer ms'], Object.keys(cross).map((k) => {
    const rs = cross[k].rounds;
    const lib = k === 'library';
    return [NAMES[k], rs.map((r) => r.tokenRequests).join(', '), `${fmt(med(rs, (r) => r.ok))}/${cfg.crossProcesses * cfg.crossPerProcess}`, fmt(med(rs, (r) => r.p99), 1), lib ? fmt(med(rs, (r) => r.winnerToLast), 1) : 'n/a (no single winner)', lib ? fmt(med(rs, (r) => r.writeToLast), 1) : 'n/a'];
  }));

  if (out.member) {
    lines.push(`## Member burst: ${cfg.crossProcesses} browsers of one member × ${cfg.crossProcesses} app processes, (c) only`, '', `One member signed in from ${cfg.crossProcesses} browsers, browser i through library process i; once their tokens have expired, ${cfg.crossPerProcess} concurrent requests per browser, each browser's to a process other than the one it signed in through, all at once. The member's refresh token is kept once per member (its consent), so the burst should make one token request. A different member each round. Not run for (b), which keeps its tokens in each session, not per member.`, '');
    const rs = out.member.rounds;
    const n = cfg.crossProcesses * cfg.crossPerProcess;
    table(['app', 'token requests', 'answered 200', 'signed-in answers', 'members answered', 'statuses', 'p99 ms'], [[
      NAMES.library, rs.map((r) => r.tokenRequests).join(', '), rs.map((r) => `${r.ok}/${n}`).join(', '), rs.map((r) => r.signedIn).join(', '), rs.map((r) => r.users).join(', '),
      rs.map((r) => Object.entries(r.statuses).map(([k, v]) => `${k}×${v}`).join(' ')).join('; '), fmt(median(rs.map((r) => r.p99)), 1),
    ]]);
  }

  lines.push(`## Memory: heap after GC, ${fmt(cfg.memory)} sign-ins + ${fmt(cfg.memory)} renewals, twice`, '', 'The app reports process.memoryUsage().heapUsed after global.gc() (run with --expose-gc). Sessions live in Redis, so the heap should not grow with them.', '');
  table(['app', 'heap at start MiB', `after ${fmt(cfg.memory)} MiB`, `after ${fmt(cfg.memory * 2)} MiB`, 'bytes per live session', 'growth over the second batch MiB', 'token requests (renewals)', 'rss MiB'], Object.keys(memory).map((k) => {
    const x = memory[k];
    return [NAMES[k], mib(x.base), mib(x.first), mib(x.second), fmt(x.perSession), mib(x.secondGrowth), x.renewed.map((r) => `${r.tokenRequests} of ${r.ok}`).join(', '), mib(x.rss)];
  }));
  if (cluster) {
    lines.push('## Redis Cluster beside the single node', '', `The library app (c) on a 3-master Redis Cluster (ioredis \`Cluster\`, connect-redis 8, docs/several-instances.md) and on the single node, in ${cfg.rounds} interleaved rounds of the fresh-token GET and ${cfg.burstRounds} of the renewal burst (${cfg.burst} concurrent requests of one session with an expired token). All nodes on this machine.`, '');
    const burstOf = (k) => cluster[k].burst;
    table(['Redis', 'app CPU µs/request', 'req/s', 'p99 ms', 'Redis commands/request', 'burst: token requests', 'burst: answered 200', 'burst: p99 ms'], ['single', 'cluster'].map((k) => [
      k === 'single' ? 'single node' : 'Cluster, 3 masters', fmt(cluster[k].cpuPerReq), fmt(cluster[k].rps), fmt(cluster[k].p99, 1), fmt(cluster[k].redisPerReq, 2),
      burstOf(k).map((r) => r.tokenRequests).join(', '), `${fmt(median(burstOf(k).map((r) => r.ok)))}/${cfg.burst}`, fmt(median(burstOf(k).map((r) => r.p99)), 1),
    ]));
    lines.push(`Cluster ÷ single node: CPU ${ratio(cluster.cpuRatios)}, req/s ${ratio(cluster.rpsRatios)} (median of per-round ratios [range]).`, '');
  }
  return lines.join('\n');
}

async function teardown() {
  await Promise.all([...children].map((child) => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  })));
  const deleted = await deleteKeys(prefix).catch((err) => { log(`could not delete keys: ${err.message}`); return 0; });
  log(`stopped every process; deleted ${deleted} Redis keys under ${prefix}`);
}

process.on('SIGINT', () => { teardown().finally(() => process.exit(130)); });

main().then(async (out) => {
  await teardown();
  const text = report(out);
  console.log(text);
  const target = process.env.BENCH_RESULTS || path.join(__dirname, 'RESULTS.md');
  if (target !== '-') {
    // Keep the section `npm run bench:instructions` wrote (bench/instructions.js): this run does not measure it.
    const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
    const at = old.indexOf('# Instruction counts (callgrind)');
    const end = at >= 0 ? old.indexOf('\n# ', at + 1) : -1;
    const kept = at >= 0 ? old.slice(at, end >= 0 ? end : undefined).replace(/\s*$/, '\n') : '';
    fs.writeFileSync(target, `${text.replace(/\s*$/, '')}\n${kept ? `\n${kept}` : ''}`);
    log(`wrote ${path.relative(process.cwd(), target)}`);
  }
}, async (err) => {
  console.error(err);
  await teardown();
  process.exit(1);
});
