// The published types in projects that do not install @types/express-session (an optional peer):
// the package's augmentation of express-session's SessionData must not break their build, even
// with skipLibCheck off, while Passport's augmented options still apply.
import fs from 'node:fs';
import path from 'node:path';
import { cleanup, installTarball, packTarball, pool, tempDir, tsc } from '../helpers/consumer';

jest.setTimeout(120_000);

let work: string;

beforeAll(async () => {
  work = tempDir('consumer-types');
  await packTarball(work);
});

afterAll(() => cleanup(work));

const APP = `import passport from 'passport';
import { SpaceStrategy, type SpaceSessionData } from 'passport-jetbrains-space';

passport.use(new SpaceStrategy({
  spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/auth/space/callback',
}, (_accessToken, _refreshToken, profile, done) => done(null, { id: profile.id })));
export const start = passport.authenticate('space', { returnTo: '/reports', requestCredentials: 'required' });
// @ts-expect-error Passport's options know the Space ones, with their types
export const bad = passport.authenticate('space', { requestCredentials: 'sometimes' });
export type Tokens = SpaceSessionData['tokens'];
`;

/** Installs the tarball without @types/express-session (express-session's JS is there). */
async function project(name: string, files: Record<string, string>): Promise<string> {
  const dir = path.join(work, name);
  await installTarball(dir, await packTarball(work), { passport: 'passport', 'express-session': 'express-session', express: 'express' });
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...pkg, type: 'module' }));
  for (const [file, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, file), text);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'nodenext', strict: true, skipLibCheck: false, noEmit: true },
    files: Object.keys(files),
  }));
  return dir;
}

test('without @types/express-session a project compiles with skipLibCheck off, with or without a shim for express-session', async () => {
  const plain = await project('plain', { 'app.ts': APP });
  const shimmed = await project('shimmed', {
    'app.ts': `${APP}import session from 'express-session';\nexport const sessions = session({ secret: 'x' });\n`,
    // What projects write for a module without types.
    'shims.d.ts': "declare module 'express-session';\n",
  });
  expect(fs.existsSync(path.join(plain, 'node_modules', '@types', 'express-session'))).toBe(false);
  await pool(2, [plain, shimmed].map((dir) => () => tsc(dir, ['-p', '.', '--pretty', 'false'])));
});
