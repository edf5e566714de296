// Writes the ESM entry points next to the CommonJS build: each re-exports the CommonJS
// module by name, so `import` and `require` share one copy (no dual-package hazard:
// `instanceof SpaceError` holds whichever way the package was loaded).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
for (const entry of ['index', 'emulator/index']) {
  const cjs = path.join(dist, `${entry}.js`);
  const names = Object.keys(require(cjs)).filter((n) => n !== 'default' && n !== '__esModule').sort();
  const base = `./${path.basename(entry)}.js`;
  fs.writeFileSync(path.join(dist, `${entry}.mjs`),
    `import cjs from '${base}';\nexport const { ${names.join(', ')} } = cjs;\nexport default cjs;\n`);
  // The default export (the whole CommonJS module) exists at run time, so the types say so too.
  fs.writeFileSync(path.join(dist, `${entry}.d.mts`),
    `import cjs from '${base}';\nexport * from '${base}';\nexport default cjs;\n`);
}
// express-session's types are optional for consumers: an augmentation of a module that is
// not in the program is error TS2664, so it is marked as allowed to fail (see lib/augment.ts).
const augment = path.join(dist, 'augment.d.ts');
const marker = "declare module 'express-session' {";
const dts = fs.readFileSync(augment, 'utf8');
if (!dts.includes(marker)) throw new Error(`${augment}: no express-session augmentation to mark`);
fs.writeFileSync(augment, dts.replace(marker, `// @ts-ignore TS2664 without @types/express-session\n${marker}`));

const cli = path.join(dist, 'emulator', 'cli.js');
if (fs.existsSync(cli)) fs.chmodSync(cli, 0o755);
