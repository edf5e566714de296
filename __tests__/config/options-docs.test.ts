// Every option table of docs/options.md lists exactly the options the code accepts:
// the names in the table equal the part's known-name list (the list its unknown-option check uses),
// each listed name is accepted by the real part, and a name outside the list is a TypeError.
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import passport from 'passport';
import {
  SpaceBearerStrategy, SpaceStrategy, spaceAppClient, spaceAuth, spaceErrorHandler, spaceEvents, spaceHealth, spaceSignOut, spaceTokenRefresh, verifySpaceRequest,
} from 'passport-jetbrains-space';
import { SPACE_AUTH_OPTION_NAMES } from '../../lib/auth/space-auth';
import { APP_CLIENT_OPTION_NAMES } from '../../lib/app-client/client';
import { BEARER_OPTION_NAMES } from '../../lib/bearer/strategy';
import { ERROR_HANDLER_OPTION_NAMES } from '../../lib/web/error-handler';
import { STRATEGY_OPTION_NAMES } from '../../lib/config/strategy-options';
import { TOKEN_REFRESH_OPTION_NAMES } from '../../lib/refresh/middleware';
import { SHARED_OPTION_NAMES } from '../../lib/config/shared-settings';
import { SIGN_OUT_OPTION_NAMES } from '../../lib/signout/sign-out';
import { VERIFY_REQUEST_OPTION_NAMES } from '../../lib/webhooks/verify-request';
import { HEALTH_OPTION_NAMES } from '../../lib/health/health';
import { SPACE_EVENTS_OPTION_NAMES } from '../../lib/space-events/space-events';

const OPTIONS_DOC = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'options.md'), 'utf8');

/** The option names in the tables under each `## heading` of docs/options.md (one page, one part per heading). */
export function optionTables(markdown: string): Map<string, string[]> {
  if (!markdown.startsWith('# Options\n')) throw new Error('docs/options.md does not start with "# Options"');
  const tables = new Map<string, string[]>();
  for (const part of markdown.split(/\n## /).slice(1)) {
    const heading = part.slice(0, part.indexOf('\n')).trim();
    const rows = part.split('\n').filter((line) => line.startsWith('| `'));
    tables.set(heading, rows.map((row) => /^\| `([^`]+)` \|/.exec(row)![1]!));
  }
  return tables;
}

const shared = new Set<string>(SHARED_OPTION_NAMES);
const own = (names: readonly string[]) => names.filter((n) => !shared.has(n));
const sorted = (names: readonly string[]) => [...names].sort();

const strategyOptions = { spaceURL: 'https://acme.jetbrains.space', clientID: 'id', clientSecret: 'secret', callbackURL: '/auth/space/callback' };
const verify = () => undefined;
const newStrategy = () => new SpaceStrategy(strategyOptions, verify);

interface Part {
  heading: string;
  /** Every name the code accepts. */
  known: readonly string[];
  /** The names its table in docs/options.md lists (the shared settings have their own table). */
  documented: readonly string[];
  /** A working set of options. */
  base: () => Record<string, unknown>;
  /** Builds the part. */
  make: (options: never) => unknown;
}

// spaceAuth needs a Redis client; this one never connects (nothing is sent while building the router).
const lazyRedis = new Redis({ lazyConnect: true });
afterAll(() => lazyRedis.disconnect());

const PARTS: Part[] = [
  // `redis` is a shared setting, but required by spaceAuth: its own table lists it.
  { heading: 'spaceAuth', known: SPACE_AUTH_OPTION_NAMES, documented: [...own(SPACE_AUTH_OPTION_NAMES), 'redis'],
    base: () => ({ spaceURL: strategyOptions.spaceURL, clientID: 'id', clientSecret: 'secret', baseURL: 'http://localhost:3000', secret: 's', redis: lazyRedis, passport: new passport.Passport() }),
    make: (o) => spaceAuth(o) },
  { heading: 'SpaceStrategy', known: STRATEGY_OPTION_NAMES, documented: own(STRATEGY_OPTION_NAMES),
    base: () => strategyOptions, make: (o) => new SpaceStrategy(o, verify) },
  { heading: 'Shared settings', known: SHARED_OPTION_NAMES, documented: SHARED_OPTION_NAMES,
    base: () => strategyOptions, make: (o) => new SpaceStrategy(o, verify) },
  { heading: 'spaceTokenRefresh', known: TOKEN_REFRESH_OPTION_NAMES, documented: own(TOKEN_REFRESH_OPTION_NAMES),
    base: () => ({ strategy: newStrategy() }), make: (o) => spaceTokenRefresh(o) },
  { heading: 'spaceSignOut', known: SIGN_OUT_OPTION_NAMES, documented: own(SIGN_OUT_OPTION_NAMES),
    base: () => ({ strategy: newStrategy() }), make: (o) => spaceSignOut(o) },
  { heading: 'spaceErrorHandler', known: ERROR_HANDLER_OPTION_NAMES, documented: ERROR_HANDLER_OPTION_NAMES,
    base: () => ({}), make: (o) => spaceErrorHandler(o) },
  { heading: 'spaceAppClient', known: APP_CLIENT_OPTION_NAMES, documented: APP_CLIENT_OPTION_NAMES,
    base: () => ({ strategy: newStrategy() }), make: (o) => spaceAppClient(o) },
  { heading: 'SpaceBearerStrategy', known: BEARER_OPTION_NAMES, documented: BEARER_OPTION_NAMES,
    base: () => ({ spaceURL: strategyOptions.spaceURL }), make: (o) => new SpaceBearerStrategy(o) },
  { heading: 'verifySpaceRequest', known: VERIFY_REQUEST_OPTION_NAMES, documented: VERIFY_REQUEST_OPTION_NAMES,
    base: () => ({ signingKey: 'endpoint-signing-key' }), make: (o) => verifySpaceRequest(o) },
  { heading: 'spaceHealth', known: HEALTH_OPTION_NAMES, documented: HEALTH_OPTION_NAMES,
    base: () => ({ strategy: newStrategy() }), make: (o) => spaceHealth(o) },
  { heading: 'spaceEvents', known: SPACE_EVENTS_OPTION_NAMES, documented: SPACE_EVENTS_OPTION_NAMES,
    base: () => ({ strategy: newStrategy() }), make: (o) => spaceEvents(o) },
];

const tables = optionTables(OPTIONS_DOC);

test('docs/options.md has one option table per part, and no table for a part the code does not have', () => {
  expect(sorted([...tables.keys()])).toEqual(sorted(PARTS.map((p) => p.heading)));
});

describe.each(PARTS)('$heading', (part) => {
  test('its table in docs/options.md lists exactly the options the code accepts', () => {
    expect(sorted(tables.get(part.heading) ?? [])).toEqual(sorted(part.documented));
  });

  test('each listed option is accepted by the part itself', () => {
    for (const name of part.known) {
      const base = part.base();
      // An undefined value means "not given" to every validator, but the unknown-name check sees the key.
      const options = name in base ? base : { ...base, [name]: undefined };
      expect(() => part.make(options as never)).not.toThrow();
    }
  });

  test('a name outside the list is a TypeError that names it', () => {
    const options = { ...part.base(), notAnOption: 1 } as never;
    expect(() => part.make(options)).toThrow(TypeError);
    expect(() => part.make(options)).toThrow(/has no option "notAnOption"/);
  });
});

test('the table reader finds the names of the first column of each table', () => {
  const doc = '# Options\n\nIntro `zero`\n\n| `zero` | 0 |\n\n## A\n\ntext `b`\n\n| option | default |\n| --- | --- |\n| `one` | 1 |\n| `two` | 2 |\n\n## B\n\n| `three` | 3 |\n';
  expect(optionTables(doc)).toEqual(new Map([['A', ['one', 'two']], ['B', ['three']]]));
});
