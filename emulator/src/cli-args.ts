/**
 * The command line of `space-emulator`: flags, the `--help` text, and the parser that turns
 * `argv` into emulator options (tokenized by `node:util` `parseArgs`, checked here so every
 * mistake gets a precise message).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ANY_LOCAL_REDIRECT_URI, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, defaultUsers } from './defaults.js';
import type { SpaceEmulatorOptions, SpaceEmulatorUser } from './options.js';

export { isLoopbackHost } from './loopback.js';

/** Default port of the CLI (tests use port 0 through the API instead). */
export const CLI_DEFAULT_PORT = 8090;

/** The `--help` text. */
export const CLI_USAGE = `Usage: space-emulator [options]

Runs a local JetBrains Space (OAuth server, profile and team directory API) for development and tests.

Server:
  --port <n>                  port to listen on (default ${CLI_DEFAULT_PORT}; 0 = any free port)
  --host <host>               interface to listen on (default 127.0.0.1); anything but a loopback
                              address lets other machines sign in as any emulated user
  --max-recorded-requests <n> requests kept in the in-memory log (default 1000)

Application:
  --client-id <id>            client id of the application (default ${DEFAULT_CLIENT_ID})
  --client-secret <secret>    client secret (default ${DEFAULT_CLIENT_SECRET})
  --redirect-uri <uri>        allowed redirect URI, repeatable (default '*': any
                              http(s)://localhost or 127.0.0.1 URI)
  --access-token-ttl <s>      access token lifetime in seconds (default 600)
  --rotate-refresh-tokens     strict refresh-token rotation with reuse detection
  --refresh-tokens <mode>     when an exchange gets a refresh token: while-none
                              (default: while the member holds none), once, every-exchange
  --auto-approve <user>       approve as this user (id or username) without a sign-in page

Tokens for testing an API that accepts Space tokens (SpaceBearerStrategy):
  --print-token <user>        print a personal token of this user (id or username) at start-up,
                              repeatable; while it runs, POST /_emulator/tokens with user=<user>
                              or app=<client id> mints more (loopback callers only)
  --print-app-token           print an application token of the application at start-up

Organization:
  --org-name <name>           organization name (default Acme Corp)
  --org-slogan <text>         organization slogan (default none)
  --user <username[:First Last]>
                              a member, repeatable; john.doe and jane.roe get their default
                              profiles. With --user or --users-file only those users exist
  --users-file <file.json>    members from a JSON array of { id, username, firstName,
                              lastName, emails?, avatar?, about? }
  --directory-file <file.json>
                              teams, roles and memberships from a JSON object
                              { teams?, roles?, memberships? } (see emulator/README.md)

  --version                   print the version and exit
  --help, -h                  show this text
`;

/** A command-line mistake; the CLI prints the message and exits with status 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** Tokens to print once the emulator runs (`--print-token`, `--print-app-token`). */
export interface CliTokens {
  /** Usernames or ids, a personal token each. */
  users: string[];
  /** An application token of the CLI's application. */
  app: boolean;
}

/** Parsed command line: a help request, a version request, or emulator options (and tokens to print, when asked). */
export type CliArgs =
  | { help: true }
  | { help: false; version: true }
  | { help: false; version?: undefined; options: SpaceEmulatorOptions; tokens?: CliTokens };

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  'max-recorded-requests': { type: 'string' },
  'client-id': { type: 'string' },
  'client-secret': { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'access-token-ttl': { type: 'string' },
  'rotate-refresh-tokens': { type: 'boolean' },
  'refresh-tokens': { type: 'string' },
  'auto-approve': { type: 'string' },
  'print-token': { type: 'string', multiple: true },
  'print-app-token': { type: 'boolean' },
  'org-name': { type: 'string' },
  'org-slogan': { type: 'string' },
  user: { type: 'string', multiple: true },
  'users-file': { type: 'string' },
  'directory-file': { type: 'string' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Every long flag of the CLI, e.g. `--port` (tests check each is in {@link CLI_USAGE}). */
export const CLI_FLAGS: readonly string[] = Object.keys(FLAGS).map((name) => `--${name}`);

type FlagName = keyof typeof FLAGS;

function integerIn(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new CliUsageError(`${flag} expects an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Splits `argv` into flag values with parseArgs' tokens, rejecting unknown, valueless or repeated flags. */
function collect(argv: readonly string[]): { values: Map<FlagName, string[]>; booleans: Set<FlagName> } {
  const { tokens } = parseArgs({ args: [...argv], options: FLAGS, strict: false, allowPositionals: true, tokens: true });
  const values = new Map<FlagName, string[]>();
  const booleans = new Set<FlagName>();
  for (const token of tokens) {
    if (token.kind === 'positional') throw new CliUsageError(`unknown option "${token.value}" (see --help)`);
    if (token.kind === 'option-terminator') throw new CliUsageError('unknown option "--" (see --help)');
    if (!Object.hasOwn(FLAGS, token.name)) throw new CliUsageError(`unknown option "${token.rawName}" (see --help)`);
    const name = token.name as FlagName;
    const flag = `--${name}`;
    if (FLAGS[name].type === 'boolean') {
      if (token.value !== undefined) throw new CliUsageError(`${flag} takes no value`);
      booleans.add(name);
      continue;
    }
    // parseArgs takes the next argument as the value even if it is a flag; `--port --host x` is a mistake.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) throw new CliUsageError(`${flag} needs a value`);
    const list = values.get(name) ?? [];
    if (list.length > 0 && !('multiple' in FLAGS[name])) throw new CliUsageError(`${flag} may be given only once`);
    values.set(name, [...list, token.value]);
  }
  return { values, booleans };
}

function readJson(flag: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliUsageError(`${flag}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliUsageError(`${flag}: "${file}" is not valid JSON (${(err as Error).message})`);
  }
}

/** A `--user` value: a default user by username, or a new one with an id derived from the username. */
function userFromFlag(value: string): SpaceEmulatorUser {
  const colon = value.indexOf(':');
  const username = (colon === -1 ? value : value.slice(0, colon)).trim();
  if (username === '') throw new CliUsageError('--user needs a username, e.g. --user alice.smith:Alice Smith');
  const known = defaultUsers().find((u) => u.username === username);
  const words = colon === -1 ? [] : value.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
  const [first, ...rest] = words.length > 0 ? words : (known ? [] : username.split(/[._-]+/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)));
  const named = first === undefined ? {} : { firstName: first, lastName: rest.join(' ') };
  if (known) return { ...known, ...named };
  return {
    id: createHash('sha256').update(`user\n${username}`).digest('base64url').slice(0, 12),
    username,
    firstName: first ?? username,
    lastName: rest.join(' '),
    emails: [{ email: `${username}@example.com`, verified: true }],
  };
}

const DIRECTORY_KEYS = ['teams', 'roles', 'memberships'] as const;

/** Parses `argv` (without `node` and the script). Throws {@link CliUsageError} for bad flags or files. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const { values, booleans } = collect(argv);
  if (booleans.has('help')) return { help: true };
  if (booleans.has('version')) return { help: false, version: true };
  const single = (name: FlagName): string | undefined => {
    const value = values.get(name)?.[0];
    if (value === '') throw new CliUsageError(`--${name} must not be empty`);
    return value;
  };

  const port = values.get('port')?.[0];
  const options: SpaceEmulatorOptions = {
    port: port === undefined ? CLI_DEFAULT_PORT : integerIn('--port', port, 0, 65535),
    clients: [
      {
        clientID: single('client-id') ?? DEFAULT_CLIENT_ID,
        clientSecret: single('client-secret') ?? DEFAULT_CLIENT_SECRET,
        redirectURIs: values.get('redirect-uri') ?? [ANY_LOCAL_REDIRECT_URI],
      },
    ],
  };
  const host = single('host');
  if (host !== undefined) options.host = host;
  const ttl = values.get('access-token-ttl')?.[0];
  if (ttl !== undefined) options.accessTokenTTL = integerIn('--access-token-ttl', ttl, 1, 10 * 365 * 24 * 3600);
  if (booleans.has('rotate-refresh-tokens')) options.rotateRefreshTokens = true;
  const refreshTokens = single('refresh-tokens');
  if (refreshTokens !== undefined) {
    if (refreshTokens !== 'while-none' && refreshTokens !== 'once' && refreshTokens !== 'every-exchange') {
      throw new CliUsageError(`--refresh-tokens must be while-none, once or every-exchange, got ${JSON.stringify(refreshTokens)}`);
    }
    options.refreshTokens = refreshTokens;
  }
  const autoApprove = single('auto-approve');
  if (autoApprove !== undefined) options.autoApprove = autoApprove;
  const maxRecorded = values.get('max-recorded-requests')?.[0];
  if (maxRecorded !== undefined) options.maxRecordedRequests = integerIn('--max-recorded-requests', maxRecorded, 1, 10_000_000);

  const orgName = single('org-name');
  const orgSlogan = single('org-slogan');
  if (orgName !== undefined || orgSlogan !== undefined) {
    options.organization = { name: orgName ?? 'Acme Corp', ...(orgSlogan === undefined ? {} : { slogan: orgSlogan }) };
  }

  const usersFile = single('users-file');
  const flagUsers = (values.get('user') ?? []).map(userFromFlag);
  if (usersFile !== undefined || flagUsers.length > 0) {
    const fromFile = usersFile === undefined ? [] : readJson('--users-file', usersFile);
    if (!Array.isArray(fromFile)) throw new CliUsageError(`--users-file: "${usersFile}" must hold a JSON array of users`);
    options.users = [...(fromFile as SpaceEmulatorUser[]), ...flagUsers];
  }

  const directoryFile = single('directory-file');
  if (directoryFile !== undefined) {
    const directory = readJson('--directory-file', directoryFile);
    if (typeof directory !== 'object' || directory === null || Array.isArray(directory)) {
      throw new CliUsageError(`--directory-file: "${directoryFile}" must hold a JSON object { teams?, roles?, memberships? }`);
    }
    const unknown = Object.keys(directory).filter((k) => !(DIRECTORY_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0) throw new CliUsageError(`--directory-file: unknown key "${unknown[0]}" (expected teams, roles, memberships)`);
    Object.assign(options, directory);
  }

  const printTokens = values.get('print-token') ?? [];
  if (printTokens.some((u) => u === '')) throw new CliUsageError('--print-token must not be empty');
  if (printTokens.length > 0 || booleans.has('print-app-token')) {
    return { help: false, options, tokens: { users: printTokens, app: booleans.has('print-app-token') } };
  }
  return { help: false, options };
}
