// Where an app's CPU goes, from the CPU profiles of BENCH_PROF: how much of each measured phase
// ran in the app's sign-in code (this library for (c); passport-oauth2, node-oauth,
// passport-oauth2-refresh and the app's own file for (b)) and how much in what every app shares
// (Express, express-session, Passport, ioredis, connect-redis, Node's HTTP, the kernel's side of
// the sockets, GC). A share is a ratio of samples of one process over one phase, so a slow or
// busy machine moves it far less than it moves CPU per request.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
/** The sign-in code of each app kind, by the files its frames come from. */
const OWN = {
  library: (url) => url.includes(`${path.join(ROOT, 'dist')}${path.sep}`),
  handwritten: (url) => /node_modules\/(passport-oauth2|oauth|passport-oauth2-refresh)\//.test(url) || url.endsWith(`${path.sep}app-handwritten.js`),
  baseline: () => false,
};

/** Microseconds of one profile: all of it (idle left out) and the part in the app's sign-in code. */
function split(file, kind) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const own = OWN[kind] || (() => false);
  let total = 0;
  let mine = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const frame = nodes.get(profile.samples[i]).callFrame;
    if (frame.functionName === '(idle)') continue;
    const dt = profile.timeDeltas[i] || 0;
    total += dt;
    if (own(frame.url)) mine += dt;
  }
  return { total, mine };
}

/**
 * `runs`: [{ file, kind, phase, units }] (units: requests or sign-ins the phase served).
 * Returns, per kind and phase, the share of the app's sign-in code (median over rounds, with the
 * range) and its µs per unit as the profiler saw it.
 */
function shares(runs) {
  const groups = new Map();
  for (const run of runs) {
    if (!fs.existsSync(run.file) || !run.units) continue;
    const { total, mine } = split(run.file, run.kind);
    if (!total) continue;
    const key = `${run.kind}|${run.phase}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ share: mine / total, ownMicros: mine / run.units, totalMicros: total / run.units });
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  return [...groups].map(([key, rows]) => {
    const [kind, phase] = key.split('|');
    const list = rows.map((r) => r.share);
    return {
      kind, phase, rounds: rows.length,
      share: median(list), low: Math.min(...list), high: Math.max(...list),
      ownMicros: median(rows.map((r) => r.ownMicros)), totalMicros: median(rows.map((r) => r.totalMicros)),
    };
  });
}

module.exports = { shares };
