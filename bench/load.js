// The load generator, in its own process: Node http over loopback with keep-alive agents, a
// fixed concurrency, and a bound on both the request count and the time. It answers the
// orchestrator (run.js) over IPC; every figure it returns was measured on its own clock.
'use strict';
const http = require('node:http');
const { clock, serve } = require('./common.js');

const agents = new Map();
/** One keep-alive agent per host:port, keeping every socket it opened (bursts reuse them). */
function agentFor(url) {
  const key = `${url.hostname}:${url.port}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: Infinity, keepAliveMsecs: 30_000 });
    agents.set(key, agent);
  }
  return agent;
}

/** The Cookie header a browser would send after this answer: what it set, minus what it removed. */
function cookieOf(res) {
  const set = (res.headers['set-cookie'] || []).map((c) => c.split(';')[0]).filter((c) => !c.endsWith('='));
  return set.length ? set.join('; ') : null;
}

/** One GET; resolves { status, headers, body, ms, end } and never rejects (errors are status 0). */
function get(href, cookie) {
  const url = new URL(href);
  const start = clock();
  return new Promise((resolve) => {
    const req = http.get(url, { agent: agentFor(url), headers: cookie ? { cookie } : {}, timeout: 30_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const end = clock();
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: end - start, end });
      });
      res.on('error', (err) => resolve({ status: 0, error: String(err), ms: clock() - start, end: clock() }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: String(err), ms: clock() - start, end: clock() }));
  });
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);

function summarize(results, started, finished) {
  const ok = results.filter((r) => r.status === 200);
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const statuses = {};
  for (const r of results) statuses[r.status] = (statuses[r.status] || 0) + 1;
  return {
    count: results.length,
    ok: ok.length,
    // Answers of a signed-in session (every app's /me answers `{"user":{...}}` then).
    signedIn: ok.filter((r) => typeof r.body === 'string' && r.body.startsWith('{"user":{')).length,
    statuses,
    firstError: (results.find((r) => r.status !== 200) || {}).error,
    wallMs: finished - started,
    rps: (results.length / (finished - started)) * 1000,
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: ms[ms.length - 1],
    lastEnd: Math.max(...results.map((r) => r.end)),
  };
}

/**
 * Runs `count` jobs with `concurrency` workers, stopping early after `maxMs`. `job(i)` resolves
 * with a result; returns the results in completion order.
 */
async function pool(count, concurrency, maxMs, job) {
  const deadline = clock() + maxMs;
  let next = 0;
  const results = [];
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count && clock() < deadline) {
      const i = next++;
      results.push(await job(i));
    }
  }));
  return results;
}

/** The browser-less sign-in: start, the emulator's auto-approval, the callback; keeps the cookie. */
async function signIn(app) {
  const start = clock();
  const fail = (step, res) => ({ ok: false, step, status: res.status, error: res.error, ms: clock() - start });
  const begin = await get(`${app}/auth/space`);
  const cookie0 = cookieOf(begin);
  if (begin.status !== 302 || !cookie0) return fail('start', begin);
  const approve = await get(begin.headers.location);
  if (approve.status !== 302) return fail('authorize', approve);
  const back = new URL(approve.headers.location);
  const callback = await get(`${app}${back.pathname}${back.search}`, cookie0);
  const cookie = cookieOf(callback);
  // A completed sign-in regenerates the session: a new cookie and a redirect home.
  if (callback.status !== 302 || !cookie || cookie === cookie0) return fail('callback', callback);
  return { ok: true, cookie, ms: clock() - start };
}

/** The first half of {@link signIn}: up to the redirect back to the app, not yet followed. */
async function signInStart(app) {
  const begin = await get(`${app}/auth/space`);
  const cookie0 = cookieOf(begin);
  if (begin.status !== 302 || !cookie0) return { ok: false, step: 'start', status: begin.status, error: begin.error };
  const approve = await get(begin.headers.location);
  if (approve.status !== 302) return { ok: false, step: 'authorize', status: approve.status, error: approve.error };
  const back = new URL(approve.headers.location);
  return { ok: true, cookie0, callback: `${app}${back.pathname}${back.search}` };
}

/** The second half: the callback (code exchange and profile, in the app). */
async function signInFinish(pending) {
  const callback = await get(pending.callback, pending.cookie0);
  const cookie = cookieOf(callback);
  if (callback.status !== 302 || !cookie || cookie === pending.cookie0) return { ok: false, step: 'callback', status: callback.status, error: callback.error };
  return { ok: true, cookie };
}

const pendingSets = new Map();
let nextSet = 0;

/** Opens `n` keep-alive connections to `base` ahead of a burst, `wave` at a time (listen backlog). */
async function warm(base, n, wave = 100) {
  for (let done = 0; done < n; done += wave) {
    await Promise.all(Array.from({ length: Math.min(wave, n - done) }, () => get(`${base}/`)));
  }
}

serve({
  /** GETs `path` with `cookies[i % cookies.length]`: fixed concurrency, bounded count and time. */
  async get({ base, path = '/me', cookies, concurrency, count, maxMs = 60_000 }) {
    const started = clock();
    const results = await pool(count, concurrency, maxMs, (i) => get(`${base}${path}`, cookies[i % cookies.length]));
    return summarize(results, started, clock());
  },
  /** Completes `count` sign-ins, `concurrency` at a time; returns their cookies. */
  async signIn({ base, count, concurrency, maxMs = 600_000 }) {
    const started = clock();
    const results = await pool(count, concurrency, maxMs, () => signIn(base));
    const ok = results.filter((r) => r.ok);
    const ms = ok.map((r) => r.ms).sort((a, b) => a - b);
    return {
      count: results.length,
      ok: ok.length,
      cookies: ok.map((r) => r.cookie),
      failure: results.find((r) => !r.ok),
      wallMs: clock() - started,
      p50: percentile(ms, 50),
    };
  },
  /** Starts `count` sign-ins and stops before the callback; the pending set stays here, by id. */
  async signInStart({ base, count, concurrency }) {
    const results = await pool(count, concurrency, 600_000, () => signInStart(base));
    const ok = results.filter((r) => r.ok);
    const id = nextSet++;
    pendingSets.set(id, ok);
    return { id, count: results.length, ok: ok.length, failure: results.find((r) => !r.ok) };
  },
  /** Completes the pending sign-ins of set `id` (their codes live for the emulator's codeTTL). */
  async signInFinish({ id, concurrency }) {
    const pending = pendingSets.get(id) || [];
    pendingSets.delete(id);
    const started = clock();
    const results = await pool(pending.length, concurrency, 600_000, (i) => signInFinish(pending[i]));
    const ok = results.filter((r) => r.ok);
    return { count: results.length, ok: ok.length, wallMs: clock() - started, failure: results.find((r) => !r.ok) };
  },
  /** Baseline: sessions signed in by the bench-only seed route. */
  async seed({ base, count }) {
    const cookies = [];
    for (let i = 0; i < count; i++) {
      const res = await get(`${base}/bench/seed`);
      if (res.status !== 302) throw new Error(`seed answered ${res.status}`);
      cookies.push(cookieOf(res));
    }
    return cookies;
  },
  warm: ({ targets }) => Promise.all(targets.map((t) => warm(t.base, t.n))),
  /**
   * Sends every request of every target at once (on warmed sockets), one session's cookie, or
   * each target's own (`t.cookie`). `users`: the distinct user ids the 200 answers named.
   */
  async burst({ targets, cookie, path = '/me' }) {
    const started = clock();
    const results = await Promise.all(targets.flatMap((t) => Array.from({ length: t.n }, () => get(`${t.base}${path}`, t.cookie ?? cookie))));
    const summary = summarize(results, started, clock());
    const ids = results.filter((r) => r.status === 200).map((r) => {
      try {
        return JSON.parse(r.body).user?.id ?? null;
      } catch {
        return null;
      }
    });
    return { ...summary, users: [...new Set(ids)] };
  },
  close() {
    for (const agent of agents.values()) agent.destroy();
    setImmediate(() => process.exit(0));
    return true;
  },
});
process.send({ ready: true });
