// Every ```ts block of README.md and docs/*.md compiles, as a user would paste it: each block is
// its own module in an ESM project (`module: nodenext`) that installed the packed package, with
// the peers' types. Blocks marked ```ts nocheck are fragments and skipped. Names the docs use
// without defining (`app`, `strategy`, `redis`, ...) are declared in a prelude, so a block that
// defines its own shadows them.
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, installTarball, packTarball, ROOT, tempDir, tsc } from '../helpers/consumer';

jest.setTimeout(120_000);

interface Block {
  doc: string;
  line: number;
  code: string;
  file: string;
}

/** The ```ts blocks of one Markdown file (```ts nocheck excluded). */
export function tsBlocks(doc: string, text: string): Block[] {
  const blocks: Block[] = [];
  const fence = /^```ts([^\n]*)\n([\s\S]*?)^```\s*$/gm;
  for (const m of text.matchAll(fence)) {
    if (/\bnocheck\b/.test(m[1] as string)) continue;
    const line = text.slice(0, m.index).split('\n').length;
    const file = `${doc.replace(/[^A-Za-z0-9]+/g, '_')}_L${line}.ts`;
    blocks.push({ doc, line, code: m[2] as string, file });
  }
  return blocks;
}

const DOCS = ['README.md', 'emulator/README.md', ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const BLOCKS = DOCS.flatMap((doc) => tsBlocks(doc, fs.readFileSync(path.join(ROOT, doc), 'utf8')));

const PRELUDE = `// Names the documentation uses without defining them.
declare const app: import('express').Express;
declare const strategy: import('passport-jetbrains-space').SpaceStrategy;
declare const redis: import('ioredis').Redis;
declare const dashboard: import('express').RequestHandler;
declare const csrfCheck: import('express').RequestHandler;
declare const verify: import('passport-jetbrains-space').SpaceVerifyFunction;
declare const space: import('passport-jetbrains-space/emulator').SpaceEmulator;
declare const passport: import('passport').PassportStatic;
declare const express: typeof import('express');
declare const spaceURL: string;
declare const clientID: string;
declare const clientSecret: string;
`;

let work: string;
const errors = new Map<string, string[]>();

beforeAll(async () => {
  work = tempDir('docs');
  const project = path.join(work, 'project');
  await installTarball(project, await packTarball(work), {
    express: 'express',
    'express-session': 'express-session',
    passport: 'passport',
    ioredis: 'ioredis',
    'connect-redis': 'connect-redis',
    '@types/express-session': '@types/express-session',
  });
  const pkg = JSON.parse(fs.readFileSync(path.join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ ...pkg, type: 'module' }));
  fs.writeFileSync(path.join(project, 'prelude.d.ts'), PRELUDE);
  // `export {}` makes every block a module of its own, even one without imports.
  for (const b of BLOCKS) fs.writeFileSync(path.join(project, b.file), `${b.code}\nexport {};\n`);
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022', module: 'nodenext', moduleResolution: 'nodenext', strict: true,
      skipLibCheck: true, noEmit: true, types: ['node'],
    },
    files: ['prelude.d.ts', ...BLOCKS.map((b) => b.file)],
  }));
  try {
    await tsc(project, ['-p', '.', '--pretty', 'false']);
  } catch (err) {
    for (const line of (err as Error).message.split('\n')) {
      const m = /^([^(]+\.ts)\((\d+),\d+\): (error .*)$/.exec(line);
      if (m) errors.set(m[1] as string, [...(errors.get(m[1] as string) ?? []), `line ${m[2]}: ${m[3]}`]);
      else if (/error TS/.test(line)) errors.set('other', [...(errors.get('other') ?? []), line]);
    }
    if (errors.size === 0) throw err;
    // tsc stops at syntax errors (TS1xxx) without type-checking anything: say so, or the
    // other blocks would pass unchecked.
    if (/error TS1\d{3}:/.test((err as Error).message)) {
      errors.set('other', [...(errors.get('other') ?? []), 'a block has a syntax error, so no block was type-checked']);
    }
  }
});

afterAll(() => cleanup(work));

test('the README has type-checked blocks (the extraction finds them)', () => {
  expect(BLOCKS.filter((b) => b.doc === 'README.md').length).toBeGreaterThanOrEqual(4);
  expect(BLOCKS.some((b) => b.doc === 'docs/typescript.md')).toBe(true);
});

test.each(BLOCKS.map((b) => ({ ...b, name: `${b.doc}:${b.line}` })))('the ts block at $name compiles against the published types', ({ file }) => {
  expect(errors.get(file) ?? []).toEqual([]);
});

test('nothing outside the blocks fails to compile', () => {
  expect(errors.get('other') ?? []).toEqual([]);
  expect(errors.get('prelude.d.ts') ?? []).toEqual([]);
});

test('the extraction skips ```ts nocheck blocks and keeps the line of each block', () => {
  const doc = 'Intro\n\n```ts\nconst a = 1;\n```\n\n```ts nocheck\napp.use(session(...));\n```\n\n```sh\nnpm test\n```\n';
  expect(tsBlocks('x.md', doc).map((b) => ({ line: b.line, code: b.code }))).toEqual([{ line: 3, code: 'const a = 1;\n' }]);
});
