/**
 * The spaceAppClient examples of the docs call endpoints the emulator answers to an application
 * token: every `.get('<path>', { query: { $fields } })` of their code blocks is called as written,
 * so an example that would answer 502 against the library's own emulator fails here.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spaceAppClient } from 'passport-jetbrains-space';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startSpaceEmulator, type SpaceEmulator } from 'passport-jetbrains-space/emulator';

const ROOT = path.join(__dirname, '..', '..');

/** The sections of the docs that show spaceAppClient. */
const SECTIONS = [
  { doc: 'docs/examples.md', heading: '## The app as itself: spaceAppClient' },
  { doc: 'docs/space-doors.md', heading: '## 1. The app as itself: `spaceAppClient`' },
];

interface Call { where: string; path: string; fields?: string }

/** The `.get('path'[, { query: { $fields: '...' } }])` calls of the code blocks of one section. */
export function appCalls(doc: string, heading: string): Call[] {
  const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${doc} has no "${heading}"`);
  const end = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const calls: Call[] = [];
  for (const block of section.matchAll(/^```ts[^\n]*\n([\s\S]*?)^```/gm)) {
    for (const m of (block[1] as string).matchAll(/\.get(?:<[^>]*>)?\('([^']+)'(?:,\s*\{\s*query:\s*\{\s*\$fields:\s*'([^']+)'\s*\}\s*\})?\)/g)) {
      calls.push({ where: `${doc} (${heading.replace(/^## /, '')})`, path: m[1] as string, ...(m[2] ? { fields: m[2] } : {}) });
    }
  }
  return calls;
}

const CALLS = SECTIONS.flatMap((s) => appCalls(s.doc, s.heading));

let space: SpaceEmulator;
beforeAll(async () => {
  space = await startSpaceEmulator({ port: 0 });
});
afterAll(() => space.close());

test('the docs have spaceAppClient calls to check (the extraction finds them)', () => {
  expect(CALLS.length).toBeGreaterThanOrEqual(3);
  expect(CALLS.map((c) => c.where)).toEqual(expect.arrayContaining(SECTIONS.map((s) => expect.stringContaining(s.doc))));
});

test.each(CALLS.map((c) => ({ ...c, name: `${c.path}${c.fields ? ` ($fields ${c.fields})` : ''} in ${c.where}` })))(
  'the emulator answers $name to an application token',
  async ({ path: apiPath, fields }) => {
    const app = spaceAppClient({ spaceURL: space.url, clientID: DEFAULT_CLIENT_ID, clientSecret: DEFAULT_CLIENT_SECRET });
    const answer = await app.get<Record<string, unknown>>(apiPath, fields ? { query: { $fields: fields } } : {});
    expect(answer).toEqual(expect.any(Object));
    if (fields?.startsWith('data(')) expect((answer.data as unknown[]).length).toBeGreaterThan(0);
  },
);
