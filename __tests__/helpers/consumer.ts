/**
 * Temporary consumer projects for the package as published: `npm pack` once per test file,
 * `npm install --offline` of the tarball into a temp dir (its dependencies come from the npm
 * cache that `npm ci` filled), and the peers linked from this repository's node_modules, so
 * nothing is downloaded at run time. Needs `npm run build` first (npm test's pretest does it).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = path.join(__dirname, '..', '..');
const REPO_MODULES = path.join(ROOT, 'node_modules');
/** The repository's TypeScript compiler, standing in for a consumer's own. */
export const TSC = path.join(REPO_MODULES, 'typescript', 'bin', 'tsc');

/** A temp dir removed by `cleanup()`. */
export function tempDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `pjs-${name}-`));
}

let packed: Promise<string> | undefined;

/** Packs the package into `dir`, once per test file; resolves to the tarball's path. */
export function packTarball(dir: string): Promise<string> {
  packed ??= (async () => {
    if (!fs.existsSync(path.join(ROOT, 'dist', 'index.d.mts'))) throw new Error('dist/ is missing: run `npm run build` first');
    const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT });
    return path.join(dir, stdout.trim().split('\n').pop() as string);
  })();
  return packed;
}

/**
 * What the fallback install links instead: the package's dependencies, and the type packages
 * they would have brought along (which TypeScript consumers need).
 */
const FALLBACK_LINKS = Object.keys((JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies);
/** Linked after the install (npm would prune them before: nothing in the project names them). */
const FALLBACK_TYPES = ['@types/express', '@types/passport', '@types/node'];

/**
 * Installs the tarball into `dir` as a user would (peers are not installed: `--legacy-peer-deps`),
 * then links `links` (real name → this repo's node_modules entry, e.g. `express` → `express4`).
 * If the offline install cannot be done from the npm cache (`npm ci` may leave out the registry
 * metadata it needs), the package's dependencies are linked from this repository instead and the
 * tarball installed without a lock file or scripts.
 */
export async function installTarball(dir: string, tarball: string, links: Record<string, string> = {}): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: path.basename(dir).toLowerCase(), private: true }));
  const flags = ['install', '--offline', '--no-audit', '--no-fund', '--legacy-peer-deps'];
  try {
    await run('npm', [...flags, tarball], { cwd: dir });
  } catch {
    for (const name of FALLBACK_LINKS) link(dir, name, name);
    await run('npm', [...flags, '--no-package-lock', '--ignore-scripts', tarball], { cwd: dir });
    for (const name of FALLBACK_TYPES) link(dir, name, name);
  }
  for (const [name, source] of Object.entries(links)) link(dir, name, source);
}

/** `dir/node_modules/<name>` → this repo's `node_modules/<source>` (a symlink). */
export function link(dir: string, name: string, source: string): void {
  const target = path.join(dir, 'node_modules', name);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { recursive: true, force: true });
  fs.symlinkSync(path.join(REPO_MODULES, source), target, 'dir');
}

/** The version of `name` that Node resolves from `dir` (follows the links). */
export function resolvedVersion(dir: string, name: string): string {
  const file = fs.realpathSync(path.join(dir, 'node_modules', name, 'package.json'));
  const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name: string; version: string };
  if (pkg.name !== name) throw new Error(`${name} in ${dir} is ${pkg.name}`);
  return pkg.version;
}

/** Runs the repository's tsc with `args` in `cwd`; rejects with the compiler's output. */
export async function tsc(cwd: string, args: string[]): Promise<void> {
  try {
    await run(process.execPath, [TSC, ...args], { cwd });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsc ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** Runs `tasks` with at most `limit` at a time (the machine's cores are shared). */
export async function pool<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await (tasks[i] as () => Promise<T>)();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

export function cleanup(...dirs: Array<string | undefined>): void {
  for (const dir of dirs) if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
