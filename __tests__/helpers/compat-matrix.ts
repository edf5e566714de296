/**
 * The compatibility matrix: which stacks (Express × Passport × connect-redis) and which kinds
 * of consumer project __tests__/package/compat.test.ts signs in with, and the table of
 * docs/compatibility.md, rendered from the same definition (the test checks the file is current;
 * `UPDATE_DOCS=1 npx jest __tests__/package/compat.test.ts` rewrites it).
 */

export type ExpressMajor = '4' | '5';
export type PassportMinor = '0.6' | '0.7';
export type ConnectRedisMajor = '7' | '8';

export interface Stack {
  express: ExpressMajor;
  passport: PassportMinor;
  connectRedis: ConnectRedisMajor;
}

/** Where each version lives in this repo's node_modules (npm aliases in devDependencies). */
export const SOURCES = {
  express: { '4': 'express4', '5': 'express' },
  passport: { '0.6': 'passport06', '0.7': 'passport' },
  connectRedis: { '7': 'connect-redis7', '8': 'connect-redis' },
} as const;

export type ConsumerKind = 'cjs' | 'esm' | 'ts-nodenext' | 'ts-bundler' | 'ts-node10';

export interface ConsumerInfo {
  /** Column heading in the table. */
  label: string;
  /** What the consumer project is, for the notes under the table. */
  description: string;
}

export const CONSUMERS: Record<ConsumerKind, ConsumerInfo> = {
  cjs: { label: 'CommonJS', description: '`require()` from a `.cjs` file' },
  esm: { label: 'ESM', description: '`import` from a `.mjs` file, named exports and the default export' },
  'ts-nodenext': {
    label: 'TS nodenext',
    description: 'TypeScript, `module`/`moduleResolution` `nodenext`, an ESM project (`"type": "module"`)',
  },
  'ts-bundler': {
    label: 'TS bundler',
    description: 'TypeScript, `module` `esnext`, `moduleResolution` `bundler`, output run by Node as ESM',
  },
  'ts-node10': {
    label: 'TS node10',
    description: 'TypeScript, `module` `commonjs` without `moduleResolution` (the legacy `node10` resolution)',
  },
};

export const ALL_CONSUMERS = Object.keys(CONSUMERS) as ConsumerKind[];
const JS_CONSUMERS: ConsumerKind[] = ['cjs', 'esm'];

export const STACKS: Stack[] = (['4', '5'] as const).flatMap((express) =>
  (['0.6', '0.7'] as const).flatMap((passport) =>
    (['7', '8'] as const).map((connectRedis) => ({ express, passport, connectRedis })),
  ),
);

export const OLDEST: Stack = { express: '4', passport: '0.6', connectRedis: '7' };
export const NEWEST: Stack = { express: '5', passport: '0.7', connectRedis: '8' };
export const same = (a: Stack, b: Stack) => a.express === b.express && a.passport === b.passport && a.connectRedis === b.connectRedis;

/**
 * Every stack with the CommonJS and ESM consumers; the TypeScript consumers (a compile each)
 * on the oldest and the newest stack, which bound what the types have to accept.
 */
export function consumersOf(stack: Stack): ConsumerKind[] {
  return same(stack, OLDEST) || same(stack, NEWEST) ? ALL_CONSUMERS : JS_CONSUMERS;
}

/**
 * TypeScript consumers compile with `skipLibCheck: true`, as most projects do, except this one,
 * which checks every declaration file, ours included (a compile about three times as long).
 */
export function checksAllDeclarations(stack: Stack, kind: ConsumerKind): boolean {
  return kind === 'ts-nodenext' && same(stack, NEWEST);
}

export function stackName(stack: Stack): string {
  return `express${stack.express}-passport${stack.passport}-connect-redis${stack.connectRedis}`;
}

export function stackLabel(stack: Stack): string {
  return `Express ${stack.express}, Passport ${stack.passport}, connect-redis ${stack.connectRedis}`;
}

/** The ranges the matrix installs, from package.json's devDependencies (aliases included). */
export type Ranges = Record<string, string>;

const range = (ranges: Ranges, alias: string) => (ranges[alias] ?? '?').replace(/^npm:[^@]+@/, '');

/** docs/compatibility.md. */
export function renderCompatibilityDoc(ranges: Ranges): string {
  const head = ['Express', 'Passport', 'connect-redis', ...ALL_CONSUMERS.map((c) => CONSUMERS[c].label)];
  const rows = STACKS.map((stack) => {
    const tested = consumersOf(stack);
    return [
      `${stack.express} (\`${range(ranges, SOURCES.express[stack.express])}\`)`,
      `${stack.passport} (\`${range(ranges, SOURCES.passport[stack.passport])}\`)`,
      `${stack.connectRedis} (\`${range(ranges, SOURCES.connectRedis[stack.connectRedis])}\`)`,
      ...ALL_CONSUMERS.map((c) => (tested.includes(c) ? '✅' : '·')),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [
    '# Compatibility',
    '',
    '<!-- Generated from __tests__/helpers/compat-matrix.ts: `UPDATE_DOCS=1 npx jest __tests__/package/compat.test.ts`. -->',
    '',
    'Every ✅ is a test in `npm test` (`__tests__/package/compat.test.ts`): the packed package is installed into a',
    'temporary project of that kind, which signs in with the Space emulator over real HTTP, keeps its',
    'sessions in a real Redis through connect-redis and ioredis, calls the Space API as the user and signs',
    'out. `·` is not in the matrix (expected to work, not tested on every run).',
    '',
    line(head),
    line(head.map(() => '---')),
    ...rows.map(line),
    '',
    'Consumers:',
    '',
    ...ALL_CONSUMERS.map((c) => `- **${CONSUMERS[c].label}**: ${CONSUMERS[c].description}.`),
    '',
    `Always: Node.js 20 or newer, express-session \`${range(ranges, 'express-session')}\`, ioredis` +
      ` \`${range(ranges, 'ioredis')}\`; TypeScript consumers are compiled with TypeScript \`${range(ranges, 'typescript')}\`,`,
    '`strict`, against `@types/express` 5, `@types/passport` and `@types/express-session`, with `skipLibCheck`',
    `(as most projects) except ${CONSUMERS['ts-nodenext'].label} on ${stackLabel(NEWEST)}, which checks every declaration file.`,
    'connect-redis 9 and later dropped ioredis support; use connect-redis 8 (`import { RedisStore } from',
    "'connect-redis'`) or 7 (`import RedisStore from 'connect-redis'`).",
    '',
    `The matrix runs ioredis 5; \`npm install ioredis\` gives ioredis 6 today (\`${range(ranges, 'ioredis6')}\` in this`,
    "repository). ioredis 6's answers to every Redis script of the library are checked in `npm test`",
    '(`__tests__/store/redis-clients.test.ts`), and three app processes on ioredis 6 and connect-redis 8 sign in,',
    'renew and sign out in `npm run test:scale` (`__tests__/store/scale.test.ts`). node-redis 5 with',
    'connect-redis 9: [several-instances.md](several-instances.md).',
    '',
  ].join('\n');
}
