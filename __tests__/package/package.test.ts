import { execFileSync } from 'node:child_process';
import path from 'node:path';

// Loads the built package by its name, as users do, through package.json "exports".
const root = path.join(__dirname, '..', '..');
const run = (args: string[]) => execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' });

const MAIN = [
  'DEFAULT_PROFILE_FIELDS', 'SpaceApiError', 'SpaceAuthorizationError', 'SpaceError', 'SpaceStrategy', 'SpaceTokenError',
  'isSpaceError', 'safeReturnTo', 'spaceAuth', 'spaceEvents', 'spaceHealth',
];

describe('package exports', () => {
  test('require("passport-jetbrains-space") has the public names', () => {
    const names = JSON.parse(run(['-e', 'console.log(JSON.stringify(Object.keys(require("passport-jetbrains-space")).sort()))']));
    expect(names).toEqual(expect.arrayContaining(MAIN));
  });

  test('import from "passport-jetbrains-space" gives the same objects as require', () => {
    const out = run(['--input-type=module', '-e', `
      import * as esm from 'passport-jetbrains-space';
      import { createRequire } from 'node:module';
      const cjs = createRequire(process.cwd() + '/')('passport-jetbrains-space');
      console.log(JSON.stringify({ names: Object.keys(esm).filter((n) => n !== 'default').sort(), same: esm.SpaceStrategy === cjs.SpaceStrategy }));
    `]);
    const { names, same } = JSON.parse(out);
    expect(names).toEqual(expect.arrayContaining(MAIN));
    expect(same).toBe(true);
  });

  test('the emulator is its own subpath, for require and import', () => {
    expect(run(['-e', 'console.log(typeof require("passport-jetbrains-space/emulator").startSpaceEmulator)']).trim()).toBe('function');
    expect(run(['--input-type=module', '-e', "import { startSpaceEmulator } from 'passport-jetbrains-space/emulator'; console.log(typeof startSpaceEmulator)"]).trim()).toBe('function');
  });

  test('the main entry does not load the emulator', () => {
    const loaded = run(['-e', 'require("passport-jetbrains-space"); console.log(Object.keys(require.cache).some((f) => f.includes("/emulator/")))']);
    expect(loaded.trim()).toBe('false');
  });
});
