// Every link of the documentation resolves: a relative link names a file of the repository that
// exists, and its `#anchor` names a heading of its target (GitHub's slugs); an absolute one never
// leaves the repository (only the repository's own address and local addresses are allowed).
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/** The documentation whose links are checked. */
const DOCS = [
  'README.md', 'CONTRIBUTING.md', 'SECURITY.md', 'example-app/README.md', 'emulator/README.md', 'bench/README.md',
  ...fs.readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
];

const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { repository: { url: string } };
/** The repository's own address (from package.json), the one absolute address a link may name. */
const REPOSITORY = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
const LOCAL = /^https?:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/;

/** The text with fenced code blocks blanked out (lines kept, so line numbers stay right). */
export function withoutFences(markdown: string): string {
  const lines = markdown.split('\n');
  let fence: string | undefined;
  return lines.map((line) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === undefined && open) {
      fence = open[1]!;
      return '';
    }
    if (fence !== undefined) {
      if (line.trim().startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') fence = undefined;
      return '';
    }
    return line;
  }).join('\n');
}

/** The text without code: fenced blocks and inline code spans, which hold examples, not links. */
export function withoutCode(markdown: string): string {
  return withoutFences(markdown).replace(/(`+)[^`]*?\1/g, '');
}

/** GitHub's anchor of a heading: its text lower-cased, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // HTML tags
    .replace(/`/g, '')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
}

/** Every anchor a Markdown file offers: its headings' slugs (repeats numbered as GitHub does), and HTML ids. */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutFences(markdown).split('\n')) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (heading) {
      const base = slug(heading[1]!);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      out.add(n === 0 ? base : `${base}-${n}`);
    }
    for (const m of line.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]!);
  }
  return out;
}

export interface Link {
  line: number;
  target: string;
}

/** The links of a Markdown file: `[text](target)`, `![alt](target)`, `[label]: target`, `<https://...>`, href and src. */
export function links(markdown: string): Link[] {
  const out: Link[] = [];
  withoutCode(markdown).split('\n').forEach((text, i) => {
    const line = i + 1;
    for (const m of text.matchAll(/!?\[(?:[^\][]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ line, target: m[1]! });
    const reference = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(text);
    if (reference) out.push({ line, target: reference[1]! });
    for (const m of text.matchAll(/<((?:https?|mailto):[^>\s]+)>/g)) out.push({ line, target: m[1]! });
    for (const m of text.matchAll(/\s(?:href|src)="([^"]+)"/g)) out.push({ line, target: m[1]! });
  });
  return out;
}

/** What is wrong with one link of `doc` (a path relative to `root`), or undefined. */
export function problem(root: string, doc: string, target: string): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    if (LOCAL.test(target) || target === REPOSITORY || target.startsWith(`${REPOSITORY}/`) || target.startsWith(`${REPOSITORY}#`)) return undefined;
    return 'points outside the repository';
  }
  const hash = target.indexOf('#');
  const file = decodeURI(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved = file === '' ? path.join(root, doc) : path.resolve(path.dirname(path.join(root, doc)), file);
  const inside = path.relative(root, resolved);
  if (inside.startsWith('..') || path.isAbsolute(inside)) return 'leaves the repository';
  if (!fs.existsSync(resolved)) return `${inside} does not exist`;
  if (anchor === undefined || anchor === '') return undefined;
  if (!resolved.endsWith('.md')) return `#${anchor} on a file that is not Markdown`;
  if (!anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) return `${inside} has no heading #${anchor}`;
  return undefined;
}

describe.each(DOCS)('%s', (doc) => {
  test('every link resolves: the file exists, the #anchor names one of its headings, nothing leaves the repository', () => {
    const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
    const broken = links(text)
      .map(({ line, target }) => ({ line, target, why: problem(ROOT, doc, target) }))
      .filter((l) => l.why !== undefined)
      .map((l) => `${doc}:${l.line} (${l.target}): ${l.why}`);
    expect(broken).toEqual([]);
  });
});

test('the documentation has links to check (the extraction finds them)', () => {
  const readme = links(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  expect(readme.length).toBeGreaterThan(20);
  expect(readme.some((l) => l.target.includes('#'))).toBe(true);
});

describe('the checker itself', () => {
  test("slugs follow GitHub's rules", () => {
    expect(slug('Quick start (TypeScript)')).toBe('quick-start-typescript');
    expect(slug("Space's other doors")).toBe('spaces-other-doors');
    expect(slug('1. The app as itself: `spaceAppClient`')).toBe('1-the-app-as-itself-spaceappclient');
    expect(slug('Unable to verify authorization request state / Sign-in state does not match'))
      .toBe('unable-to-verify-authorization-request-state--sign-in-state-does-not-match');
    expect(slug('Hash tags and `keyPrefix`')).toBe('hash-tags-and-keyprefix');
    expect(slug('snake_case stays')).toBe('snake_case-stays');
  });

  test('a repeated heading gets -1, -2; headings inside code blocks are not headings', () => {
    const doc = '# Top\n\n## Same\n\n## Same\n\n## With `code`\n\n```md\n## Not a heading\n```\n<a name="custom"></a>\n';
    expect([...anchors(doc)].sort()).toEqual(['custom', 'same', 'same-1', 'top', 'with-code']);
  });

  test('links are found in text, not in code; every form is read', () => {
    const doc = [
      'See [a](a.md), ![pic](img.png "title") and [b](b.md#part).',
      'Code: `[no](nope.md)`',
      '```',
      '[no](nope.md)',
      '```',
      '[ref]: ref.md',
      'Mail <https://example.com/x> and <a href="c.md">c</a>.',
    ].join('\n');
    expect(links(doc).map((l) => l.target)).toEqual(['a.md', 'img.png', 'b.md#part', 'ref.md', 'https://example.com/x', 'c.md']);
  });

  test('a dead file, a dead anchor, a path out of the repository and an outside address are each reported', () => {
    expect(problem(ROOT, 'README.md', 'docs/options.md#spacestrategy')).toBeUndefined();
    expect(problem(ROOT, 'docs/options.md', '#shared-settings')).toBeUndefined();
    expect(problem(ROOT, 'README.md', 'docs/no-such-page.md')).toMatch(/does not exist/);
    expect(problem(ROOT, 'README.md', '#team-rules')).toMatch(/has no heading #team-rules/);
    expect(problem(ROOT, 'docs/options.md', '../../elsewhere.md')).toMatch(/leaves the repository/);
    expect(problem(ROOT, 'README.md', 'https://example.com/page')).toMatch(/outside the repository/);
    expect(problem(ROOT, 'README.md', 'http://localhost:3000/')).toBeUndefined();
    expect(problem(ROOT, 'README.md', REPOSITORY)).toBeUndefined();
  });
});
