#!/usr/bin/env node
/**
 * `space-emulator`: runs the Space emulator from the command line for local development.
 *
 * It prints the emulator's URL and its client credentials as ready-to-paste environment lines.
 * Those credentials are the emulator's own dummies (see defaults.ts), so printing them is intended;
 * nothing else (codes, tokens) is ever printed.
 */
import { ANY_LOCAL_REDIRECT_URI, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } from './defaults.js';
import type { SpaceEmulatorOptions } from './options.js';
import { startSpaceEmulator, type SpaceEmulator } from './server.js';

/** Default port of the CLI (tests use port 0 through the API instead). */
export const CLI_DEFAULT_PORT = 8090;

/** The `--help` text. */
export const CLI_USAGE = `Usage: space-emulator [options]

Runs a local JetBrains Space (OAuth server and profile API) for development and tests.

Options:
  --port <n>                  port to listen on (default ${CLI_DEFAULT_PORT}; 0 = any free port)
  --host <host>               interface to listen on (default 127.0.0.1)
  --client-id <id>            client id of the application (default ${DEFAULT_CLIENT_ID})
  --client-secret <secret>    client secret (default ${DEFAULT_CLIENT_SECRET})
  --redirect-uri <uri>        allowed redirect URI, repeatable (default '*': any
                              http(s)://localhost or 127.0.0.1 URI)
  --access-token-ttl <s>      access token lifetime in seconds (default 600)
  --rotate-refresh-tokens     strict refresh-token rotation with reuse detection
  --auto-approve <user>       approve as this user (id or username) without a sign-in page
  --help                      show this text
`;

/** A command-line mistake; the CLI prints the message and exits with status 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** Parsed command line: either a help request or emulator options. */
export type CliArgs = { help: true } | { help: false; options: SpaceEmulatorOptions };

const VALUE_FLAGS = ['--port', '--host', '--client-id', '--client-secret', '--redirect-uri', '--access-token-ttl', '--auto-approve'];
const BOOLEAN_FLAGS = ['--rotate-refresh-tokens', '--help', '-h'];

function integerIn(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) throw new CliUsageError(`${flag} expects an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

/** Parses `argv` (without `node` and the script). Throws {@link CliUsageError} for bad flags. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const values = new Map<string, string[]>();
  const booleans = new Set<string>();
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq !== -1 ? arg.slice(0, eq) : arg;
    if (BOOLEAN_FLAGS.includes(flag)) {
      if (flag !== arg) throw new CliUsageError(`${flag} takes no value`);
      booleans.add(flag === '-h' ? '--help' : flag);
    } else if (VALUE_FLAGS.includes(flag)) {
      let value: string | undefined;
      if (flag !== arg) value = arg.slice(eq + 1);
      else {
        value = argv[i + 1];
        if (value === undefined || value.startsWith('--')) throw new CliUsageError(`${flag} needs a value`);
        i += 1;
      }
      values.set(flag, [...(values.get(flag) ?? []), value]);
    } else {
      throw new CliUsageError(`unknown option "${arg}" (see --help)`);
    }
  }
  if (booleans.has('--help')) return { help: true };

  const single = (flag: string): string | undefined => {
    const list = values.get(flag);
    if (list && list.length > 1) throw new CliUsageError(`${flag} may be given only once`);
    return list?.[0];
  };
  const nonEmpty = (flag: string): string | undefined => {
    const value = single(flag);
    if (value === '') throw new CliUsageError(`${flag} must not be empty`);
    return value;
  };

  const port = single('--port');
  const ttl = single('--access-token-ttl');
  const options: SpaceEmulatorOptions = {
    port: port === undefined ? CLI_DEFAULT_PORT : integerIn('--port', port, 0, 65535),
    clients: [
      {
        clientID: nonEmpty('--client-id') ?? DEFAULT_CLIENT_ID,
        clientSecret: nonEmpty('--client-secret') ?? DEFAULT_CLIENT_SECRET,
        redirectURIs: values.get('--redirect-uri') ?? [ANY_LOCAL_REDIRECT_URI],
      },
    ],
  };
  const host = nonEmpty('--host');
  if (host !== undefined) options.host = host;
  if (ttl !== undefined) options.accessTokenTTL = integerIn('--access-token-ttl', ttl, 1, 10 * 365 * 24 * 3600);
  if (booleans.has('--rotate-refresh-tokens')) options.rotateRefreshTokens = true;
  const autoApprove = nonEmpty('--auto-approve');
  if (autoApprove !== undefined) options.autoApprove = autoApprove;
  return { help: false, options };
}

/** Where the CLI writes; tests pass collectors. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

const processIO: CliIO = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/** The startup banner: URL, credentials, users and `.env` lines. */
export function banner(emulator: SpaceEmulator, options: SpaceEmulatorOptions): string {
  const client = options.clients?.[0];
  const users = emulator.users.map((u) => `${u.username} (${u.firstName} ${u.lastName})`).join(', ');
  return [
    `Space emulator listening on ${emulator.url}`,
    '',
    `  client id:      ${client?.clientID ?? DEFAULT_CLIENT_ID}`,
    `  client secret:  ${client?.clientSecret ?? DEFAULT_CLIENT_SECRET}`,
    `  redirect URIs:  ${(client?.redirectURIs ?? [ANY_LOCAL_REDIRECT_URI]).join(' ')}`,
    `  users:          ${users}`,
    `  auto-approve:   ${options.autoApprove ?? 'off (sign-in page)'}`,
    '',
    'For your .env:',
    `SPACE_URL=${emulator.url}`,
    `SPACE_CLIENT_ID=${client?.clientID ?? DEFAULT_CLIENT_ID}`,
    `SPACE_CLIENT_SECRET=${client?.clientSecret ?? DEFAULT_CLIENT_SECRET}`,
  ].join('\n');
}

/**
 * Runs the CLI in-process: resolves to the running emulator, or to an exit code (0 after
 * `--help`, 2 for bad flags or options, 1 if the server cannot start, e.g. port in use).
 */
export async function runCli(argv: readonly string[], io: CliIO = processIO): Promise<SpaceEmulator | number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.err(`space-emulator: ${err.message}`);
    return 2;
  }
  if (args.help) {
    io.out(CLI_USAGE);
    return 0;
  }
  try {
    const emulator = await startSpaceEmulator(args.options);
    io.out(banner(emulator, args.options));
    return emulator;
  } catch (err) {
    io.err(`space-emulator: ${err instanceof Error ? err.message : String(err)}`);
    return err instanceof TypeError ? 2 : 1;
  }
}

/** Entry point of the `space-emulator` bin: runs until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const result = await runCli(process.argv.slice(2));
  if (typeof result === 'number') {
    process.exitCode = result;
    return;
  }
  const stop = (): void => {
    processIO.err('space-emulator: shutting down');
    // If closing stalls, do not keep the terminal hostage.
    setTimeout(() => process.exit(0), 2000).unref();
    void result.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (require.main === module) void main();
