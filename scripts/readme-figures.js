#!/usr/bin/env node
// The figures the README quotes, measured: what `npm pack` makes of the built package (the
// tarball, the files in it, the emulator's share), the dependencies an install brings along (as
// this repository's package-lock.json resolves them, walked from package.json "dependencies"
// through node_modules the way Node resolves them), and the renewal burst of the last full
// benchmark run (read from bench/RESULTS.md, never re-run).
//
// Each figure lives in the README between `<!-- figures:<name> -->` and `<!-- /figures -->`.
//   node scripts/readme-figures.js          measures, prints, and exits 1 when the README drifts
//   node scripts/readme-figures.js --write  rewrites those blocks with the measured figures
//   node scripts/readme-figures.js --json   prints the measurements
// Needs a fresh `npm run build` (the tarball packs dist/). __tests__/package/readme-figures.test.ts
// runs the check.
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const README = path.join(ROOT, 'README.md');
const RESULTS = path.join(ROOT, 'bench', 'RESULTS.md');

/** A quoted size may differ from the measured one by this share before it counts as drift. */
const SIZE_TOLERANCE = 0.05;

/** `npm pack --json` of the package as it would be published: sizes in bytes. */
function measurePack() {
  if (!fs.existsSync(path.join(ROOT, 'dist', 'index.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pjs-figures-'));
  try {
    const out = execFileSync('npm', ['pack', '--json', '--silent', '--pack-destination', dir], { cwd: ROOT, encoding: 'utf8' });
    const [info] = JSON.parse(out);
    const emulatorBytes = info.files
      .filter((f) => f.path.startsWith('dist/emulator/') || f.path.startsWith('emulator/'))
      .reduce((sum, f) => sum + f.size, 0);
    return { tarballBytes: info.size, unpackedBytes: info.unpackedSize, emulatorBytes, fileCount: info.entryCount };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes of the files of one installed package, its own nested node_modules left out. */
function packageBytes(dir) {
  let total = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) total += packageBytes(full);
    else if (entry.isFile()) total += fs.statSync(full).size;
  }
  return total;
}

/** Where Node finds `name` from a package installed at `from`: its own node_modules, then its parents'. */
function resolvePackage(name, from) {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === ROOT || path.dirname(dir) === dir) throw new Error(`${name} (needed by ${path.relative(ROOT, from) || 'the package'}) is not installed: run npm ci`);
  }
}

/**
 * The package's dependency tree: every package `dependencies` bring in, each once. Code is what
 * the non-`@types` dependencies reach through non-`@types` packages; everything else (the
 * `@types` packages and what only they bring, such as `undici-types`) is type declarations.
 */
function measureDependencies() {
  const rootPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const found = new Map(); // dir -> { name, version, bytes, deps: dirs }
  const visit = (name, from) => {
    const dir = resolvePackage(name, from);
    if (found.has(dir)) return dir;
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    const entry = { name: pkg.name, version: pkg.version, bytes: packageBytes(dir), deps: [] };
    found.set(dir, entry);
    const optional = pkg.optionalDependencies ?? {};
    for (const dep of Object.keys({ ...pkg.dependencies, ...optional })) {
      if (dep in optional && !fs.existsSync(path.join(dir, 'node_modules', dep)) && !fs.existsSync(path.join(ROOT, 'node_modules', dep))) continue;
      entry.deps.push(visit(dep, dir));
    }
    return dir;
  };
  const roots = Object.keys(rootPkg.dependencies ?? {}).map((name) => visit(name, ROOT));
  const isTypes = (dir) => found.get(dir).name.startsWith('@types/');
  const code = new Set();
  const walk = (dir) => {
    if (code.has(dir) || isTypes(dir)) return;
    code.add(dir);
    for (const dep of found.get(dir).deps) walk(dep);
  };
  roots.forEach(walk);
  const list = (dirs) => [...dirs].map((d) => found.get(d)).sort((a, b) => a.name.localeCompare(b.name));
  const codePackages = list(code);
  const typePackages = list([...found.keys()].filter((d) => !code.has(d)));
  return {
    codeRoots: Object.keys(rootPkg.dependencies ?? {}).filter((n) => !n.startsWith('@types/')).sort(),
    typeRoots: Object.keys(rootPkg.dependencies ?? {}).filter((n) => n.startsWith('@types/')).sort(),
    codePackages: codePackages.map(({ name, version, bytes }) => ({ name, version, bytes })),
    typePackages: typePackages.map(({ name, version, bytes }) => ({ name, version, bytes })),
    codeBytes: codePackages.reduce((s, p) => s + p.bytes, 0),
    typeBytes: typePackages.reduce((s, p) => s + p.bytes, 0),
  };
}

/** The renewal burst of bench/RESULTS.md: token requests per round for (b) and (c). */
function readBench(text = fs.readFileSync(RESULTS, 'utf8')) {
  const start = text.indexOf('\n## Renewal burst');
  if (start < 0) throw new Error('bench/RESULTS.md has no "## Renewal burst" section');
  const section = text.slice(start, text.indexOf('\n## ', start + 1));
  const burst = /(\d[\d,]*) concurrent requests/.exec(section);
  const row = (label) => {
    const line = section.split('\n').find((l) => l.startsWith(`| ${label} |`));
    if (!line) throw new Error(`bench/RESULTS.md: no "${label}" row in the renewal burst`);
    return line.split('|')[2].split(',').map((s) => Number(s.trim()));
  };
  return { burst: Number(burst[1].replace(/,/g, '')), handwritten: row('(b) hand-written'), library: row('(c) this library') };
}

function measure() {
  return { pack: measurePack(), dependencies: measureDependencies(), bench: readBench() };
}

// ---- Rendering: each block is text with its figures; `kind` says how a quoted figure is compared.

const kB = (bytes) => bytes / 1000;
/** npm's units: kB and MB of 1,000. */
function size(bytes) {
  if (bytes >= 1e6) return { text: `${(bytes / 1e6).toFixed(1)} MB`, value: bytes / 1e6, kind: 'size' };
  return { text: `${Math.round(kB(bytes))} kB`, value: kB(bytes), kind: 'size' };
}
const count = (n) => ({ text: n.toLocaleString('en-US'), value: n, kind: 'exact' });
const words = (names) => names.map((n) => `\`${n}\``).join(names.length > 2 ? ', ' : ' and ').replace(/, ([^,]*)$/, ' and $1');

/** A block as a template: literal strings and figures in turn. */
function block(parts) {
  return {
    text: parts.map((p) => (typeof p === 'string' ? p : p.text)).join(''),
    figures: parts.filter((p) => typeof p !== 'string'),
  };
}

const RENDER = {
  package: (m) => block([
    'What the library itself adds (`node scripts/readme-figures.js` measures it): a ', size(m.pack.tarballBytes),
    ' tarball (`npm pack`) holding ', size(m.pack.unpackedBytes), ' of files, ', size(m.pack.emulatorBytes),
    ' of them the emulator; and ', count(m.dependencies.codePackages.length + m.dependencies.typePackages.length),
    ' packages of dependencies (as package-lock.json resolves them): ', count(m.dependencies.codePackages.length),
    ' of code, ', size(m.dependencies.codeBytes), ' of files (', m.dependencies.codeRoots.map((n) => `\`${n}\``).join(', '),
    ' and their dependencies), and ', count(m.dependencies.typePackages.length), ' of type declarations (',
    words(m.dependencies.typeRoots), ' brings `@types/express`, `@types/node` and theirs; most of it is',
    ' `@types/node`, which a TypeScript project has already).',
  ]),
  bench: (m) => block([
    'In the last full benchmark run, ', count(m.bench.burst), ' concurrent requests of one session with an expired',
    ' token made ', count(Math.max(...m.bench.library)), ' token request to Space in each of ', count(m.bench.library.length),
    ' rounds; a hand-written passport-oauth2-refresh app made ', count(Math.min(...m.bench.handwritten)), ' to ',
    count(Math.max(...m.bench.handwritten)), '.',
  ]),
};

const NUMBER = /(?<![\w./-])\d[\d,]*(?:\.\d+)?(?![\w/-])/g;
const OPEN = (name) => `<!-- figures:${name} -->`;
const CLOSE = '<!-- /figures -->';

/** The text between a block's markers (trimmed), or undefined. */
function quoted(readme, name) {
  const start = readme.indexOf(OPEN(name));
  if (start < 0) return undefined;
  const end = readme.indexOf(CLOSE, start);
  if (end < 0) return undefined;
  return readme.slice(start + OPEN(name).length, end).trim();
}

/** Reflows a block's text to lines of at most 100 characters, as the README is written. */
function wrap(text, width = 100) {
  const lines = [];
  let line = '';
  // Words, a `code span` kept whole.
  const tokens = [];
  for (const word of text.split(/\s+/)) {
    const last = tokens.length - 1;
    if (last >= 0 && (tokens[last].split('`').length - 1) % 2 === 1) tokens[last] += ` ${word}`;
    else tokens.push(word);
  }
  for (const word of tokens) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.join('\n');
}

/**
 * What drifted: one message per block whose words differ from the rendered ones, or whose
 * quoted figure differs from the measured one (sizes by more than SIZE_TOLERANCE, counts at all).
 */
function check(readme, measured) {
  const problems = [];
  for (const [name, render] of Object.entries(RENDER)) {
    const want = render(measured);
    const have = quoted(readme, name);
    if (have === undefined) {
      problems.push(`README.md has no ${OPEN(name)} ... ${CLOSE} block`);
      continue;
    }
    const flat = have.replace(/\s+/g, ' ');
    if (flat.replace(NUMBER, '#') !== want.text.replace(NUMBER, '#')) {
      problems.push(`the "${name}" figures block reads differently from what the script writes:\n  README: ${flat}\n  script: ${want.text}`);
      continue;
    }
    const numbers = flat.match(NUMBER) ?? [];
    want.figures.forEach((figure, i) => {
      const value = Number(numbers[i].replace(/,/g, ''));
      const off = figure.kind === 'size' ? Math.abs(value - figure.value) / figure.value > SIZE_TOLERANCE : value !== figure.value;
      if (off) problems.push(`the "${name}" block quotes ${numbers[i]} where the script measures ${figure.text}`);
    });
  }
  return problems;
}

/** The README with every block rewritten from the measurements, indented like its opening marker. */
function write(readme, measured) {
  let out = readme;
  for (const [name, render] of Object.entries(RENDER)) {
    if (quoted(out, name) === undefined) throw new Error(`README.md has no ${OPEN(name)} ... ${CLOSE} block to write`);
    const open = out.indexOf(OPEN(name));
    const indent = /[ \t]*$/.exec(out.slice(0, open))[0];
    const start = open + OPEN(name).length;
    const end = out.indexOf(CLOSE, start);
    const body = wrap(render(measured).text, 100 - indent.length).split('\n').map((line) => indent + line).join('\n');
    out = `${out.slice(0, start)}\n${body}\n${indent}${out.slice(end)}`;
  }
  return out;
}

module.exports = { measure, measurePack, measureDependencies, readBench, check, write, RENDER, SIZE_TOLERANCE };

if (require.main === module) {
  const measured = measure();
  const readme = fs.readFileSync(README, 'utf8');
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify(measured, null, 2)}\n`);
  } else if (process.argv.includes('--write')) {
    fs.writeFileSync(README, write(readme, measured));
    process.stdout.write('README.md: figures written\n');
  } else {
    for (const render of Object.values(RENDER)) process.stdout.write(`${render(measured).text}\n\n`);
    const problems = check(readme, measured);
    for (const p of problems) process.stderr.write(`readme-figures: ${p}\n`);
    if (problems.length > 0) {
      process.stderr.write('readme-figures: run `node scripts/readme-figures.js --write` (after npm run build)\n');
      process.exitCode = 1;
    }
  }
}
