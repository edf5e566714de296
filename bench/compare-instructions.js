#!/usr/bin/env node
// How far two runs of `npm run bench:instructions` agree: reads the raw counts each wrote with
// BENCH_JSON and prints every per-unit figure and ratio of both, with the difference in percent.
//
//   BENCH_JSON=/tmp/a.json npm run bench:instructions
//   BENCH_JSON=/tmp/b.json npm run bench:instructions
//   node bench/compare-instructions.js /tmp/a.json /tmp/b.json
'use strict';
const fs = require('node:fs');

/** Every figure of one run, by name: instructions per unit (without GC and compilation, with GC, all) and the ratios. */
function figures(out) {
  const f = new Map();
  const per = (name, x) => {
    f.set(`${name}: without GC and compilation`, x.rest / x.units);
    f.set(`${name}: with GC`, (x.rest + x.gc) / x.units);
    f.set(`${name}: all`, x.total / x.units);
  };
  const ratio = (name, a, b) => {
    f.set(`${name}: without GC and compilation`, (a.rest / a.units) / (b.rest / b.units));
    f.set(`${name}: with GC`, ((a.rest + a.gc) / a.units) / ((b.rest + b.gc) / b.units));
  };
  for (const [kind, x] of Object.entries(out.get)) per(`GET ${kind}`, x);
  for (const kind of ['handwritten', 'library']) ratio(`GET ${kind} ÷ baseline`, out.get[kind], out.get.baseline);
  for (const [kind, phases] of Object.entries(out.signIn)) for (const [phase, x] of Object.entries(phases)) per(`sign-in ${phase} ${kind}`, x);
  for (const phase of Object.keys(out.signIn.library || {})) ratio(`sign-in ${phase} library ÷ handwritten`, out.signIn.library[phase], out.signIn.handwritten[phase]);
  if (out.renewal) {
    for (const [what, x] of Object.entries(out.renewal)) per(`renewal ${what}`, x);
    ratio('renewal burst ÷ fresh burst', out.renewal.burst, out.renewal.fresh);
  }
  return f;
}

if (require.main === module) {
  const [a, b] = process.argv.slice(2).map((file) => figures(JSON.parse(fs.readFileSync(file, 'utf8'))));
  if (!b) {
    console.error('usage: node bench/compare-instructions.js A.json B.json');
    process.exit(2);
  }
  const fmt = (n) => (Math.abs(n) < 10 ? n.toFixed(3) : Math.round(n).toLocaleString('en-US'));
  console.log('| figure | run A | run B | B ÷ A − 1 |\n| --- | --- | --- | --- |');
  for (const [name, x] of a) {
    const y = b.get(name);
    if (y === undefined) continue;
    console.log(`| ${name} | ${fmt(x)} | ${fmt(y)} | ${((y / x - 1) * 100).toFixed(2)}% |`);
  }
}

module.exports = { figures };
