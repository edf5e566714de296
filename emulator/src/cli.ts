#!/usr/bin/env node
/**
 * `space-emulator`: runs the Space emulator from the command line for local development.
 *
 * It prints the emulator's URL and its client credentials as ready-to-paste environment lines.
 * Those credentials are the emulator's own dummies (see defaults.ts), so printing them is intended.
 * Tokens are printed only when asked for (`--print-token`, `--print-app-token`): they are the
 * emulator's own too, minted for testing an API; codes never are.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CliArgs, CLI_USAGE, CliUsageError, type CliTokens, isLoopbackHost, parseCliArgs } from './cli-args.js';
import { ANY_LOCAL_REDIRECT_URI, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_ORGANIZATION } from './defaults.js';
import type { SpaceEmulatorOptions } from './options.js';
import { startSpaceEmulator, type SpaceEmulator } from './server.js';
import { TEST_TOKENS_PATH } from './test-tokens.js';

export { CLI_DEFAULT_PORT, CLI_FLAGS, CLI_USAGE, CliUsageError, isLoopbackHost, parseCliArgs, type CliArgs, type CliTokens } from './cli-args.js';

/** The package version, from the package.json two levels up (lib/emulator or dist/emulator). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
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
    `  organization:   ${options.organization?.name ?? DEFAULT_ORGANIZATION.name}`,
    `  teams:          ${emulator.teams.map((t) => t.name).join(', ') || 'none'}`,
    `  auto-approve:   ${[options.autoApprove ?? 'off (sign-in page)'].flat().join(', ')}`,
    `  test tokens:    POST ${emulator.url}${TEST_TOKENS_PATH} with user=<username> or app=<client id>`,
    '',
    'For your .env:',
    `SPACE_URL=${emulator.url}`,
    `SPACE_CLIENT_ID=${client?.clientID ?? DEFAULT_CLIENT_ID}`,
    `SPACE_CLIENT_SECRET=${client?.clientSecret ?? DEFAULT_CLIENT_SECRET}`,
  ].join('\n');
}

/**
 * The tokens asked for on the command line, as lines to print: `<username>: <token>` and
 * `application <client id>: <token>`. Throws a TypeError for a user the emulator does not have.
 */
export function tokenLines(emulator: SpaceEmulator, options: SpaceEmulatorOptions, tokens: CliTokens): string {
  const lines = ['Tokens for testing your API (Authorization: Bearer <token>; permanent, until the emulator stops):'];
  for (const wanted of tokens.users) {
    const user = emulator.users.find((u) => u.id === wanted || u.username === wanted);
    if (!user) throw new TypeError(`--print-token: no user with id or username "${wanted}"`);
    lines.push(`${user.username}: ${emulator.mintPersonalToken(user.id)}`);
  }
  if (tokens.app) {
    const clientID = options.clients?.[0]?.clientID ?? DEFAULT_CLIENT_ID;
    lines.push(`application ${clientID}: ${emulator.mintApplicationToken(clientID)}`);
  }
  return lines.join('\n');
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
  if (args.version) {
    io.out(packageVersion());
    return 0;
  }
  const host = args.options.host;
  if (host !== undefined && !isLoopbackHost(host)) {
    io.err(`space-emulator: warning: --host ${host} is not a loopback address; anyone who can reach it can sign in as any emulated user`);
  }
  let emulator: SpaceEmulator | undefined;
  try {
    emulator = await startSpaceEmulator(args.options);
    const tokens = args.tokens ? tokenLines(emulator, args.options, args.tokens) : undefined;
    io.out(banner(emulator, args.options));
    if (tokens) io.out(`\n${tokens}`);
    return emulator;
  } catch (err) {
    await emulator?.close();
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
