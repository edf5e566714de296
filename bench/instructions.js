#!/usr/bin/env node
// Instruction counts of the app processes, from callgrind: instructions per signed-in request,
// per sign-in and per renewal, of (a) the baseline, (b) the hand-written app and (c) this library,
// with GC and V8's compilers reported apart. Unlike CPU time, an instruction count hardly moves
// with a busy machine, so two runs agree closely and small differences between apps show.
//
//   npm run bench:instructions                 full run (7 to 11 minutes on a shared 2-core machine)
//   npm run bench:instructions -- --quick      a short check of the machinery (smaller counts)
//
// Each app process runs alone under `valgrind --tool=callgrind --instr-atstart=no` (node with
// --single-threaded, fixed semi-space sizes and fixed hash and random seeds), is warmed up with
// the instrumentation off, then each measured phase is framed by callgrind_control: zero,
// instrumentation on, the phase, instrumentation off, dump. The emulator, the load generator and
// Redis run as usual, outside valgrind. See bench/README.md.
'use strict';
const { execFile, execFileSync, fork } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const { randomBytes } = require('node:crypto');
const { client, deleteKeys } = require('./common');
const { split } = require('./callgrind');

const run = promisify(execFile);
const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const num = (name, fallback) => (process.env[name] !== undefined ? Number(process.env[name]) : fallback);
const CFG = {
  mode: quick ? 'quick' : 'full',
  semiSpaceMB: num('BENCH_SEMI_SPACE', 16),
  // After a full collection the old generation may grow 20-fold before the next one, so none falls
  // in a measured phase: a full GC and a top-up warm-up come before each group of phases.
  heapGrowingPercent: num('BENCH_HEAP_GROWING', 1900),
  // Warm-up, instrumentation off: requests and sign-ins enough for V8 to settle its tiers; after
  // the full GC, V8 deoptimizes and re-optimizes a few dozen functions (their optimized code embeds
// objects that died), hence the top-ups.
  warmGets: quick ? 600 : 3000,
  warmSignIns: quick ? 300 : 1000,
  topUpGets: quick ? 300 : 2000,
  topUpSignIns: quick ? 100 : 1000,
  // Measured, one at a time (concurrency 1): nothing depends on how requests interleave.
  gets: quick ? 300 : 1500,
  signIns: quick ? 30 : 150,
  // Renewals (library app on the emulator with short-lived tokens).
  // Long enough that a renewed token is still fresh (over half its life left) for the burst after,
  // even while others load the machine.
  shortTTL: num('BENCH_SHORT_TTL', 60),
  warmRenewals: quick ? 60 : 600,
  warmBursts: quick ? 2 : 20,
  renewals: quick ? 5 : 40,
  bursts: quick ? 2 : 5,
  burst: 100,
};
/**
 * Node's flags for an app under callgrind: every one makes a count depend less on timing.
 * - --single-threaded: V8 collects garbage and compiles on the main thread, no helper threads.
 * - fixed semi-spaces: the young generation does not grow or shrink with the allocation rate.
 * - fixed hash and random seeds: the same hash tables and Math.random() every run.
 * - collections triggered by allocation only, never by a timer or a task whose turn depends on
 *   timing (--no-minor-gc-task, --no-incremental-marking-task, --no-memory-reducer), and an old
 *   generation that grows by a fixed factor after a full collection (V8 otherwise picks the factor
 *   from how fast the collector and the program ran).
 * - --expose-gc: the scavenge before each phase (common.js `stats`).
 */
const NODE_FLAGS = [
  '--single-threaded', `--min-semi-space-size=${CFG.semiSpaceMB}`, `--max-semi-space-size=${CFG.semiSpaceMB}`,
  '--hash-seed=1', '--random-seed=1',
  '--no-minor-gc-task', '--no-incremental-marking-task', '--no-memory-reducer', `--heap-growing-percent=${CFG.heapGrowingPercent}`,
  '--expose-gc',
];
const VALGRIND = process.env.BENCH_VALGRIND || 'valgrind';
const CALLGRIND_CONTROL = process.env.BENCH_CALLGRIND_CONTROL || 'callgrind_control';
const LONG = 3_600_000; // load-generator bounds: under valgrind, phases take minutes, not seconds
const prefix = `pjs-bench:${randomBytes(6).toString('hex')}:`;
const keep = process.env.BENCH_KEEP_DUMPS; // a directory: keep the callgrind dumps there
const dumpDir = keep ? path.resolve(keep) : fs.mkdtempSync(path.join(os.tmpdir(), 'pjs-callgrind-'));
fs.mkdirSync(dumpDir, { recursive: true });
const children = new Set();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.error(`[instructions ${new Date().toISOString().slice(11, 19)}]`, ...a);
const NAMES = { baseline: '(a) baseline', handwritten: '(b) hand-written', library: '(c) this library' };

/**
 * With 2 or more cores and taskset, the app under valgrind runs alone on the last core and the
 * rest (this process, the emulator, the load generator) on the others: it changes how long a run
 * takes, not what it counts. BENCH_PIN=0 pins nothing.
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
  if (pinned) execFileSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
}
pin(process.pid, OTHER_CORES);

/** Forks a bench process; resolves once it said it is ready. `spawnOptions` may run it under valgrind. */
function start(file, env, spawnOptions = {}, cores = OTHER_CORES) {
  const child = fork(path.join(__dirname, file), [], {
    env: { ...process.env, BENCH_PREFIX: prefix, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...spawnOptions,
  });
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
      pin(child.pid, cores);
      resolve({ child, call, info: msg });
    });
  });
}

/**
 * An app process under callgrind, its instrumentation off until a measured phase. With valgrind,
 * the process's pid is the app's (valgrind runs the program in its own process), which is what
 * callgrind_control addresses.
 */
async function startApp(kind, spaceURL, name = kind) {
  // Answers (Redis's, Space's) can wait seconds for a slow app to read them: nothing may time out.
  const app = await start(`app-${kind}.js`, { SPACE_URL: spaceURL, BENCH_REDIS_TIMEOUT: '120000', BENCH_SPACE_TIMEOUT: '120000' }, {
    execPath: VALGRIND,
    execArgv: [
      '-q', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${path.join(dumpDir, `${name}.%p`)}`,
      process.execPath, ...NODE_FLAGS,
    ],
  }, APP_CORE);
  return Object.assign(app, { kind, name, base: `http://127.0.0.1:${app.info.port}`, pid: app.child.pid, dumps: 0 });
}

function stop(proc) {
  if (!proc || proc.child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.child.once('exit', resolve);
    proc.child.kill('SIGTERM');
  });
}

async function control(app, args) {
  const { stdout } = await run(CALLGRIND_CONTROL, [...args, String(app.pid)]);
  if (!/OK/.test(stdout)) throw new Error(`callgrind_control ${args.join(' ')} ${app.pid}: ${stdout}`);
}

/** Dumps what callgrind counted since it was zeroed; resolves with the dump's file name. */
async function dump(app) {
  await control(app, ['-d']);
  app.dumps += 1;
  const file = path.join(dumpDir, `${app.name}.${app.pid}.${app.dumps}`);
  for (let i = 0; i < 600 && !fs.existsSync(file); i++) await sleep(50);
  if (!fs.existsSync(file)) throw new Error(`no callgrind dump ${file}`);
  return file;
}

/**
 * Instructions the app executed while `fn` ran: a scavenge first, so every phase starts with an
 * empty young generation and its minor GCs fall at the same points run after run (a full GC would
 * not do: V8 re-optimizes dozens of functions after one), then zero, instrumentation on, `fn`,
 * instrumentation off, dump. The app's own counters (requests served, Redis commands sent) are
 * read outside the measured span.
 */
async function measure(app, phase, fn) {
  const before = await app.call('stats', { gc: 'minor' });
  await control(app, ['-z']);
  await control(app, ['-i', 'on']);
  const t = Date.now();
  const result = await fn();
  const seconds = (Date.now() - t) / 1000;
  await control(app, ['-i', 'off']);
  const file = await dump(app);
  const after = await app.call('stats', {});
  const counts = split(file);
  if (!keep) fs.rmSync(file);
  else fs.renameSync(file, path.join(dumpDir, `${app.name}-${phase}-${app.dumps}.callgrind`));
  if (phase !== 'burst' && phase !== 'burst-fresh') log(`${app.name} ${phase}: ${counts.total.toLocaleString('en-US')} instructions in ${seconds.toFixed(0)} s`);
  return { result, ...counts, served: after.served - before.served, redis: after.redisCommands - before.redisCommands };
}

/** A full collection, twice (common.js `stats`), outside any measured phase. */
const fullGC = (app) => app.call('stats', { gc: true });

const check = (cond, what) => {
  if (!cond) throw new Error(what);
};

async function main() {
  const t0 = Date.now();
  log(`mode ${CFG.mode}, prefix ${prefix}, dumps in ${dumpDir}`);
  execFileSync(VALGRIND, ['--version'], { stdio: 'ignore' });
  const emu = await start('emulator.js', { BENCH_SHORT_TTL: String(CFG.shortTTL), BENCH_CODE_TTL: '3600' });
  const { long, short } = emu.info;
  const load = await start('load.js', {});
  const L = load.call;
  const out = { cfg: CFG, get: {}, signIn: {}, valgrind: execFileSync(VALGRIND, ['--version']).toString().trim() };

  /** One signed-in session (the baseline's bench-only route stands in for its sign-in). */
  const signedIn = async (app) => {
    if (app.kind === 'baseline') return (await L('seed', { base: app.base, count: 1 }))[0];
    const s = await L('signIn', { base: app.base, count: 1, concurrency: 1 });
    check(s.ok === 1, `sign-in to ${app.name} failed: ${JSON.stringify(s.failure)}`);
    return s.cookies[0];
  };

  // ---- Fresh-token GETs and sign-ins, one app process at a time (emulator with 600 s tokens) ----
  for (const kind of ['baseline', 'handwritten', 'library']) {
    log(`${NAMES[kind]}: starting under callgrind, warming up`);
    const app = await startApp(kind, long);
    const warmCookie = await signedIn(app);
    const probe = await L('get', { base: app.base, cookies: [warmCookie], concurrency: 1, count: 1 });
    check(probe.signedIn === 1, `${kind} /me answered for a signed-out session: ${JSON.stringify(probe.statuses)}`);
    await L('get', { base: app.base, cookies: [warmCookie], concurrency: 1, count: CFG.warmGets, maxMs: LONG });
    const warmSignIns = async (count) => {
      const w = await L('signIn', { base: app.base, count, concurrency: 4, maxMs: LONG });
      check(w.ok === w.count, `${kind} warm-up sign-in: ${JSON.stringify(w.failure)}`);
      // The measured halves (all starts, then all callbacks) warmed the same way.
      const s = await L('signInStart', { base: app.base, count: 100, concurrency: 4 });
      await L('signInFinish', { id: s.id, concurrency: 4 });
    };
    if (kind !== 'baseline') await warmSignIns(CFG.warmSignIns);

    // The GET phase: a full GC, the top-up warm-up, then a session signed in just now, whose
    // token is fresh for the whole phase (600 s, renewed under 60 s).
    await fullGC(app);
    await L('get', { base: app.base, cookies: [warmCookie], concurrency: 1, count: CFG.topUpGets, maxMs: LONG });
    const cookie = await signedIn(app);
    const get = await measure(app, 'get', () => L('get', { base: app.base, cookies: [cookie], concurrency: 1, count: CFG.gets, maxMs: LONG }));
    check(get.result.signedIn === CFG.gets && get.served === CFG.gets, `${kind} GET: ${JSON.stringify(get.result.statuses)}, ${get.served} served`);
    out.get[kind] = { units: CFG.gets, ...pick(get) };

    if (kind !== 'baseline') {
      // The sign-in phases: a full GC and the top-up warm-up again.
      await fullGC(app);
      await warmSignIns(CFG.topUpSignIns);
      const complete = await measure(app, 'signin', () => L('signIn', { base: app.base, count: CFG.signIns, concurrency: 1, maxMs: LONG }));
      check(complete.result.ok === CFG.signIns && complete.served === 2 * CFG.signIns, `${kind} sign-in: ${JSON.stringify(complete.result.failure)}, ${complete.served} served`);
      const begin = await measure(app, 'start', () => L('signInStart', { base: app.base, count: CFG.signIns, concurrency: 1 }));
      check(begin.result.ok === CFG.signIns && begin.served === CFG.signIns, `${kind} sign-in start: ${JSON.stringify(begin.result.failure)}`);
      const callback = await measure(app, 'callback', () => L('signInFinish', { id: begin.result.id, concurrency: 1 }));
      check(callback.result.ok === CFG.signIns && callback.served === CFG.signIns, `${kind} sign-in callback: ${JSON.stringify(callback.result.failure)}`);
      out.signIn[kind] = {
        complete: { units: CFG.signIns, ...pick(complete) },
        start: { units: CFG.signIns, ...pick(begin) },
        callback: { units: CFG.signIns, ...pick(callback) },
      };
    }
    await stop(app);
    await emu.call('reset', { which: 'long' });
  }

  // ---- Renewals: the library app on the emulator with short-lived tokens ----
  log(`${NAMES.library}, renewals: starting under callgrind, warming up`);
  const app = await startApp('library', short, 'library-renewal');
  // Warm-up: requests of one session (renewed every half lifetime along the way), then, once the
  // sessions signed in next have all expired, renewals (one request of one session each) and
  // bursts (each burst of an expired session followed by the same burst with its renewed token),
  // as measured. The measured sessions are signed in with the warm-up's, so one wait covers both.
  const c0 = await signedIn(app);
  await L('get', { base: app.base, cookies: [c0], concurrency: 1, count: CFG.warmGets, maxMs: LONG });
  const total = CFG.warmRenewals + CFG.warmBursts + CFG.renewals + CFG.bursts;
  const signIns = await L('signIn', { base: app.base, count: total, concurrency: 4, maxMs: LONG });
  check(signIns.ok === total, `renewal sign-in: ${JSON.stringify(signIns.failure)}`);
  const sessions = signIns.cookies.slice();
  const take = (n) => sessions.splice(0, n);
  await sleep(CFG.shortTTL * 1000 + 1000);
  // The full GC before the measured phases; the renewals and bursts of the warm-up follow it.
  await fullGC(app);
  const warmRenewals = take(CFG.warmRenewals);
  await L('get', { base: app.base, cookies: warmRenewals, concurrency: 1, count: warmRenewals.length, maxMs: LONG });
  await L('warm', { targets: [{ base: app.base, n: CFG.burst }] });
  for (const cookie of take(CFG.warmBursts)) {
    await L('burst', { targets: [{ base: app.base, n: CFG.burst }], cookie });
    await L('burst', { targets: [{ base: app.base, n: CFG.burst }], cookie });
  }

  const singles = take(CFG.renewals);
  const burstCookies = take(CFG.bursts);
  // Open keep-alive sockets for the bursts now, so no connection is set up while measured.
  await L('warm', { targets: [{ base: app.base, n: CFG.burst }] });
  await emu.call('reset', { which: 'short' });
  const single = await measure(app, 'renewal', () => L('get', { base: app.base, cookies: singles, concurrency: 1, count: singles.length, maxMs: LONG }));
  const singleTokens = (await emu.call('counts', { which: 'short' })).refresh;
  check(single.result.signedIn === CFG.renewals && single.served === CFG.renewals, `renewal: ${JSON.stringify(single.result.statuses)}`);
  await emu.call('reset', { which: 'short' });
  // Each burst of an expired session, then at once the same burst again: the token is fresh now
  // (renewed under half its lifetime), so nobody waits on a renewal. Each burst is its own dump.
  const burstOnce = (cookie) => () => L('burst', { targets: [{ base: app.base, n: CFG.burst }], cookie });
  const burstRuns = [];
  const againRuns = [];
  let burstTokens = 0;
  let againTokens = 0;
  for (const cookie of burstCookies) {
    await emu.call('reset', { which: 'short' });
    burstRuns.push(await measure(app, 'burst', burstOnce(cookie)));
    burstTokens += (await emu.call('counts', { which: 'short' })).refresh;
    await emu.call('reset', { which: 'short' });
    againRuns.push(await measure(app, 'burst-fresh', burstOnce(cookie)));
    againTokens += (await emu.call('counts', { which: 'short' })).refresh;
  }
  if (burstTokens !== CFG.bursts || againTokens !== 0) log(`warning: ${burstTokens} token requests over ${CFG.bursts} bursts, ${againTokens} over the bursts with a renewed token (want ${CFG.bursts} and 0)`);
  const burst = sum(burstRuns);
  const again = sum(againRuns);
  check(burst.signedIn === CFG.bursts * CFG.burst && burst.served === CFG.bursts * CFG.burst, `burst: ${burst.signedIn} signed-in answers, ${burst.served} served`);
  check(again.signedIn === CFG.bursts * CFG.burst && again.served === CFG.bursts * CFG.burst, `fresh burst: ${again.signedIn} signed-in answers, ${again.served} served`);
  out.renewal = {
    single: { units: CFG.renewals, tokens: singleTokens, ...pick(single) },
    burst: { units: CFG.bursts * CFG.burst, tokens: burstTokens, ...pick(burst) },
    fresh: { units: CFG.bursts * CFG.burst, tokens: againTokens, ...pick(again) },
  };
  await stop(app);

  out.seconds = (Date.now() - t0) / 1000;
  await load.call('close').catch(() => {});
  await emu.call('close').catch(() => {});
  return out;
}

/** Several measured runs added up. */
function sum(runs) {
  const add = (f) => runs.reduce((n, m) => n + f(m), 0);
  return {
    total: add((m) => m.total), gc: add((m) => m.gc), compile: add((m) => m.compile), rest: add((m) => m.rest),
    redis: add((m) => m.redis), served: add((m) => m.served), signedIn: add((m) => m.result.signedIn),
    scavenges: add((m) => m.scavenges), fullGCs: add((m) => m.fullGCs),
  };
}

/** The counts a report needs (not the load generator's own result). */
function pick(m) {
  return { total: m.total, gc: m.gc, compile: m.compile, rest: m.rest, redis: m.redis, scavenges: m.scavenges, fullGCs: m.fullGCs };
}

// ---- Report ----

const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
/** Per unit: without GC and compilation, with GC (still without compilation), GC, compilation, all. */
const per = (x) => ({ rest: x.rest / x.units, withGC: (x.rest + x.gc) / x.units, gc: x.gc / x.units, compile: x.compile / x.units, total: x.total / x.units, redis: x.redis / x.units, gcs: `${x.scavenges} + ${x.fullGCs}` });

function report(out) {
  const { cfg } = out;
  const lines = [];
  const table = (head, rows) => {
    lines.push(`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`);
    for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
    lines.push('');
  };
  const cpu = (/^model name\s*:\s*(.*)$/m.exec(fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '') || [])[1] || os.cpus()[0]?.model || 'unknown';
  lines.push('# Instruction counts (callgrind)', '');
  lines.push(`${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cfg.mode} run of \`npm run bench:instructions\` (${fmt(out.seconds)} s). Machine: ${os.cpus().length} cores, ${cpu}, Node ${process.version}, ${out.valgrind}.`);
  lines.push(`Each app process alone under callgrind (\`node ${NODE_FLAGS.join(' ')}\`), warmed up with the instrumentation off (${fmt(cfg.warmGets)} GETs, ${fmt(cfg.warmSignIns)} sign-ins; then a full GC and a top-up of ${fmt(cfg.topUpGets)} GETs before the GET phase, of ${fmt(cfg.topUpSignIns)} sign-ins before the sign-in phases), a scavenge (minor GC) before each measured phase; the emulator, the load generator and Redis outside valgrind. Instructions are the app process's, all threads. "Without GC and compilation" leaves out V8's garbage collector and its compilers (parser, bytecode, Sparkplug, TurboFan); "with GC" puts the collector back. See bench/README.md.`, '');

  const g = Object.fromEntries(Object.entries(out.get).map(([k, x]) => [k, per(x)]));
  lines.push('## Signed-in GET /me with a fresh token', '', `${fmt(cfg.gets)} sequential keep-alive requests of one session signed in just before the phase. Instructions per request.`, '');
  table(['app', 'without GC and compilation', '÷ (a)', 'with GC', '÷ (a)', 'GC', 'compilation', 'all', 'Redis commands', 'collections in the phase (minor + full)'], Object.keys(g).map((k) => [
    NAMES[k], fmt(g[k].rest), fmt(g[k].rest / g.baseline.rest, 3), fmt(g[k].withGC), fmt(g[k].withGC / g.baseline.withGC, 3), fmt(g[k].gc), fmt(g[k].compile), fmt(g[k].total), fmt(g[k].redis, 2), g[k].gcs,
  ]));

  const s = {};
  for (const k of Object.keys(out.signIn)) s[k] = Object.fromEntries(Object.entries(out.signIn[k]).map(([phase, x]) => [phase, per(x)]));
  const PHASES = { complete: 'complete sign-in (start + callback)', start: 'start alone (GET /auth/space)', callback: 'callback alone (code exchange + profile + login)' };
  lines.push('## Sign-in', '', `${cfg.signIns} browser-less sign-ins one at a time (the emulator approves each), measured whole; then ${cfg.signIns} starts, measured, and their ${cfg.signIns} callbacks, measured apart. Instructions per sign-in.`, '');
  const rows = [];
  for (const phase of Object.keys(PHASES)) {
    for (const k of ['handwritten', 'library']) {
      const x = s[k][phase];
      rows.push([PHASES[phase], NAMES[k], fmt(x.rest), fmt(x.withGC), fmt(x.gc), fmt(x.compile), fmt(x.total), fmt(x.redis, 1), x.gcs]);
    }
    const r = (f) => s.library[phase][f] / s.handwritten[phase][f];
    rows.push([PHASES[phase], '**(c) ÷ (b)**', `**${fmt(r('rest'), 3)}**`, fmt(r('withGC'), 3), '', '', fmt(r('total'), 3), '', '']);
  }
  table(['phase', 'app', 'without GC and compilation', 'with GC', 'GC', 'compilation', 'all', 'Redis commands', 'collections (minor + full)'], rows);
  lines.push('A sign-in phase holds only one or two collections (last column); they start when the young generation is full, so the same ones fall inside the phase run after run.', '');

  const r = Object.fromEntries(Object.entries(out.renewal).map(([k, x]) => [k, { ...per(x), tokens: x.tokens, units: x.units }]));
  lines.push('## Renewal (library app, emulator with short-lived tokens)', '', `A separate process of (c) on the emulator whose tokens live ${cfg.shortTTL} s, warmed up with ${cfg.warmRenewals} renewals and ${cfg.warmBursts} bursts. "One renewal": ${cfg.renewals} sessions whose token has expired, one request each, one at a time (each request waits for its renewal), per request. "Burst": ${cfg.bursts} times ${cfg.burst} concurrent requests of one session whose token has expired, waiting on one renewal, per request (waiter). "Burst, fresh token": the same bursts again right after, nobody waiting, per request.`, '');
  const RN = { single: 'one renewal (one request of an expired session)', burst: `burst of ${cfg.burst} waiting on one renewal, per waiter`, fresh: `same burst with the renewed (fresh) token, per request` };
  table(['what', 'without GC and compilation', 'with GC', 'GC', 'compilation', 'all', 'Redis commands', 'token requests', 'collections (minor + full)'], Object.keys(RN).map((k) => [
    RN[k], fmt(r[k].rest), fmt(r[k].withGC), fmt(r[k].gc), fmt(r[k].compile), fmt(r[k].total), fmt(r[k].redis, 2), `${r[k].tokens} for ${r[k].units} requests`, r[k].gcs,
  ]));
  lines.push(`One renewal ÷ a fresh-token GET of (c) (above, another process): ${fmt(r.single.rest / g.library.rest, 2)} without GC and compilation. Burst, per waiter ÷ the same burst with a fresh token: ${fmt(r.burst.rest / r.fresh.rest, 3)} (with GC ${fmt(r.burst.withGC / r.fresh.withGC, 3)}).`, '');
  return lines.join('\n');
}

/** Puts the section in RESULTS.md: replaces an earlier one (up to the next top-level heading), else appends. */
function writeResults(target, text) {
  const old = fs.existsSync(target) ? fs.readFileSync(target, 'utf8') : '';
  const HEAD = '# Instruction counts (callgrind)';
  let rest = old;
  const at = old.indexOf(HEAD);
  if (at >= 0) {
    const next = old.indexOf('\n# ', at + HEAD.length);
    rest = old.slice(0, at) + (next >= 0 ? old.slice(next + 1) : '');
  }
  rest = rest.replace(/\s*$/, '');
  fs.writeFileSync(target, `${rest ? `${rest}\n\n` : ''}${text}\n`);
}

async function teardown() {
  await Promise.all([...children].map((child) => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', resolve);
    child.kill('SIGTERM');
  })));
  const deleted = await deleteKeys(prefix).catch((err) => { log(`could not delete keys: ${err.message}`); return 0; });
  if (!keep) fs.rmSync(dumpDir, { recursive: true, force: true });
  log(`stopped every process; deleted ${deleted} Redis keys under ${prefix}`);
}

process.on('SIGINT', () => { teardown().finally(() => process.exit(130)); });

main().then(async (out) => {
  await teardown();
  const text = report(out);
  console.log(text);
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, `${JSON.stringify(out, null, 2)}\n`);
  const target = process.env.BENCH_RESULTS || path.join(__dirname, 'RESULTS.md');
  if (target !== '-') {
    writeResults(target, text);
    log(`wrote ${path.relative(process.cwd(), target)}`);
  }
}, async (err) => {
  console.error(err);
  await teardown();
  process.exit(1);
});
