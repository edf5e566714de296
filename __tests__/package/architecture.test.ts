// The house rules of lib/ and emulator/src, read from the imports themselves: no import cycle
// (type imports included), another folder reached only through its door (index.ts), and
// docs/architecture.md naming every folder of lib/ and only those.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f));
}

const SPECIFIERS = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s*'(\.{1,2}\/[^']+)'|(?:^|\n)\s*import\s*'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)/g;

/** Every relative import of a file, resolved to the file it names. */
export function importsOf(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(SPECIFIERS)) {
    const base = path.resolve(path.dirname(file), (m[1] ?? m[2] ?? m[3])!).replace(/\.js$/, '');
    const hit = [`${base}.ts`, path.join(base, 'index.ts')].find((c) => fs.existsSync(c));
    if (hit) found.push(hit);
  }
  return found;
}

/** The cycles of a graph, each as the files of one strongly connected component (Tarjan). */
export function cyclesOf(edges: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>(), cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next); low.set(v, next); next++; stack.push(v); on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); component.push(w); } while (w !== v);
      if (component.length > 1 || edges.get(v)?.includes(v)) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

const graph = (dir: string) => new Map(tsFiles(path.join(ROOT, dir)).map((f) => [f, importsOf(f)]));
const rel = (f: string) => path.relative(ROOT, f);

test.each(['lib', 'emulator/src'])('%s has no import cycle, type imports included', (dir) => {
  expect(cyclesOf(graph(dir)).map((c) => c.map(rel))).toEqual([]);
});

test('the cycle finder finds a cycle of two files and a file that imports itself', () => {
  expect(cyclesOf(new Map([['a', ['b']], ['b', ['a']], ['c', ['c']], ['d', ['a']]]))).toEqual([['a', 'b'], ['c']]);
});

test('a folder of lib/ is reached from outside only through its door (index.ts)', () => {
  const lib = path.join(ROOT, 'lib');
  const folderOf = (f: string) => (path.relative(lib, f).includes(path.sep) ? path.relative(lib, f).split(path.sep)[0] : '');
  const reaching = [...graph('lib')].flatMap(([file, targets]) => targets
    .filter((t) => folderOf(t) !== '' && folderOf(t) !== folderOf(file) && path.basename(t) !== 'index.ts')
    .map((t) => `${rel(file)} -> ${rel(t)}`));
  expect(reaching).toEqual([]);
});

test('every folder of lib/ has a door, and docs/architecture.md names each folder and no other', () => {
  const folders = fs.readdirSync(path.join(ROOT, 'lib'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  expect(folders.filter((f) => !fs.existsSync(path.join(ROOT, 'lib', f, 'index.ts')))).toEqual([]);
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const named = [...doc.matchAll(/^\| `lib\/([a-z-]+)\/` \|/gm)].map((m) => m[1]!).sort();
  expect(named).toEqual(folders);
});
