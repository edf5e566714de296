// The figures the README quotes are the ones scripts/readme-figures.js measures: the tarball and
// its files (npm pack of the built package), the dependencies (as package-lock.json resolves them),
// and the renewal burst of bench/RESULTS.md (the bench is never re-run here). A size may be off by
// the script's tolerance, a count not at all. Needs `npm run build` first.
import fs from 'node:fs';
import path from 'node:path';

jest.setTimeout(60_000);

interface Measured {
  pack: { tarballBytes: number; unpackedBytes: number; emulatorBytes: number; fileCount: number };
  dependencies: {
    codePackages: Array<{ name: string; bytes: number }>;
    typePackages: Array<{ name: string; bytes: number }>;
    codeBytes: number;
    typeBytes: number;
  };
  bench: { burst: number; handwritten: number[]; library: number[] };
}

interface ReadmeFigures {
  measure(): Measured;
  readBench(text: string): Measured['bench'];
  check(readme: string, measured: Measured): string[];
  write(readme: string, measured: Measured): string;
  SIZE_TOLERANCE: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS script of the repository, not a module of the package
const figures = require('../../scripts/readme-figures.js') as ReadmeFigures;

const ROOT = path.join(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
let measured: Measured;

beforeAll(() => {
  measured = figures.measure();
});

test('every figure the README quotes is what scripts/readme-figures.js measures (else: node scripts/readme-figures.js --write)', () => {
  expect(figures.check(README, measured)).toEqual([]);
});

test('the measurements are of the package: its dependencies split into code and type declarations', () => {
  const code = measured.dependencies.codePackages.map((p) => p.name);
  const types = measured.dependencies.typePackages.map((p) => p.name);
  expect(code).toEqual(expect.arrayContaining(['passport-oauth2', 'debug']));
  expect(code.some((n) => n.startsWith('@types/'))).toBe(false);
  expect(types).toEqual(expect.arrayContaining(['@types/passport-oauth2', '@types/node']));
  expect(measured.pack.tarballBytes).toBeLessThan(measured.pack.unpackedBytes);
  expect(measured.pack.emulatorBytes).toBeLessThan(measured.pack.unpackedBytes);
});

/** The README with the first quoted `<n> kB` of the package block replaced. */
function withTarball(readme: string, kB: number): string {
  return readme.replace(/(<!-- figures:package -->[\s\S]*?a )\d+ kB/, `$1${kB} kB`);
}

describe('the check', () => {
  const tarballKB = () => measured.pack.tarballBytes / 1000;

  test('lets a size within the tolerance pass, and reports one outside it', () => {
    const near = Math.round(tarballKB() * (1 + figures.SIZE_TOLERANCE / 2));
    const far = Math.round(tarballKB() * (1 + figures.SIZE_TOLERANCE * 3));
    expect(figures.check(withTarball(README, near), measured)).toEqual([]);
    expect(figures.check(withTarball(README, far), measured)).toEqual([expect.stringMatching(new RegExp(`quotes ${far} where the script measures`))]);
  });

  test('reports a count that is off by one, and words that no longer match', () => {
    const count = measured.dependencies.codePackages.length;
    const offByOne = README.replace(/(<!-- figures:package -->[\s\S]*?: )(\d+) of code/, (_m, head: string) => `${head}${count + 1} of code`);
    expect(figures.check(offByOne, measured)).toEqual([expect.stringMatching(/quotes \d+ where the script measures/)]);
    const reworded = README.replace('of them the emulator', 'of them the test server');
    expect(figures.check(reworded, measured)).toEqual([expect.stringMatching(/reads differently/)]);
    expect(figures.check(README.replace('<!-- figures:bench -->', ''), measured)).toEqual([expect.stringMatching(/no <!-- figures:bench -->/)]);
  });

  test('--write rewrites only the blocks, and what it writes passes', () => {
    const drifted = withTarball(README, 1);
    const written = figures.write(drifted, measured);
    expect(figures.check(written, measured)).toEqual([]);
    const outside = (text: string) => text.replace(/<!-- figures:(\w+) -->[\s\S]*?<!-- \/figures -->/g, '<$1>');
    expect(outside(written)).toBe(outside(README));
  });

  test('reads the renewal burst of bench/RESULTS.md', () => {
    const results = [
      '# Benchmark results', '',
      '## Renewal burst: 1000 concurrent requests of one session with an expired token', '',
      '| app | token requests | answered 200 |', '| --- | --- | --- |',
      '| (b) hand-written | 12, 7, 30 | 1,000/1000 |', '| (c) this library | 1, 1, 1 | 1,000/1000 |', '',
      '## Next', '',
    ].join('\n');
    expect(figures.readBench(results)).toEqual({ burst: 1000, handwritten: [12, 7, 30], library: [1, 1, 1] });
  });
});
