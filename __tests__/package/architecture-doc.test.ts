// docs/architecture.md's module table names every file of lib/ and lib/redis/ (and the emulator
// as one row), and every file it names exists: the map cannot drift from the code.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DOC = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');

/** The first cell of each row of the table under "## The modules". */
export function moduleRows(markdown: string): string[] {
  const start = markdown.indexOf('\n## The modules\n');
  if (start < 0) throw new Error('docs/architecture.md has no "## The modules" section');
  const end = markdown.indexOf('\n## ', start + 1);
  const section = markdown.slice(start, end < 0 ? undefined : end);
  return section.split('\n').flatMap((line) => {
    const m = /^\| `([^`]+)` \|/.exec(line);
    return m ? [m[1]!] : [];
  });
}

const tsFiles = (dir: string) => fs.readdirSync(path.join(ROOT, dir)).filter((f) => f.endsWith('.ts')).map((f) => `${dir}/${f}`);
const rows = moduleRows(DOC);

test('every file of lib/ and lib/redis/ has a row in the module table', () => {
  const missing = [...tsFiles('lib'), ...tsFiles('lib/redis')].filter((f) => !rows.includes(f));
  expect(missing).toEqual([]);
});

test('the emulator is one row', () => {
  expect(rows.filter((r) => r.startsWith('lib/emulator'))).toEqual(['lib/emulator/']);
});

test('every file the table names exists, and none is named twice', () => {
  expect(rows.filter((r) => !fs.existsSync(path.join(ROOT, r)))).toEqual([]);
  expect(rows.filter((r, i) => rows.indexOf(r) !== i)).toEqual([]);
});

test('the table reader takes the first cell of each row of that section only', () => {
  const doc = '# x\n\n| `lib/early.ts` | a |\n\n## The modules\n\n| file | what |\n| --- | --- |\n| `lib/a.ts` | a |\n| `lib/redis/` | b |\n\n## Next\n\n| `lib/late.ts` | c |\n';
  expect(moduleRows(doc)).toEqual(['lib/a.ts', 'lib/redis/']);
});
