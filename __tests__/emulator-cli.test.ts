/**
 * The `space-emulator` CLI, in-process: argument parsing, help, errors and a running emulator.
 */
import { createServer, type Server } from 'node:net';
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { CLI_USAGE, CliUsageError, parseCliArgs, runCli } from '../lib/emulator/cli';
import { authorize } from './helpers/emulator';

function collector() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('parseCliArgs', () => {
  test('defaults: port 8090, the default client with redirect URI *', () => {
    expect(parseCliArgs([])).toEqual({
      help: false,
      options: { port: 8090, clients: [{ clientID: 'space-emulator-client', clientSecret: 'space-emulator-secret', redirectURIs: ['*'] }] },
    });
  });

  test('every flag, in both --flag value and --flag=value forms; --redirect-uri repeats', () => {
    const args = parseCliArgs([
      '--port=0', '--host', '::1', '--client-id', 'app', '--client-secret=s3cret',
      '--redirect-uri', 'http://localhost:3000/cb', '--redirect-uri=https://app.example/cb',
      '--access-token-ttl', '30', '--rotate-refresh-tokens', '--auto-approve', 'jane.roe',
    ]);
    expect(args).toEqual({
      help: false,
      options: {
        port: 0, host: '::1', accessTokenTTL: 30, rotateRefreshTokens: true, autoApprove: 'jane.roe',
        clients: [{ clientID: 'app', clientSecret: 's3cret', redirectURIs: ['http://localhost:3000/cb', 'https://app.example/cb'] }],
      },
    });
  });

  test('--help and -h win over everything else', () => {
    expect(parseCliArgs(['--port', '1', '--help'])).toEqual({ help: true });
    expect(parseCliArgs(['-h'])).toEqual({ help: true });
  });

  test.each([
    [['--nope'], /unknown option "--nope"/],
    [['--port'], /--port needs a value/],
    [['--port', '--host', 'x'], /--port needs a value/],
    [['--port', 'http'], /--port expects an integer/],
    [['--port', '70000'], /--port expects an integer/],
    [['--port', '-1'], /--port expects an integer/],
    [['--access-token-ttl', '0'], /--access-token-ttl expects an integer/],
    [['--access-token-ttl', '1.5'], /--access-token-ttl expects an integer/],
    [['--rotate-refresh-tokens=yes'], /takes no value/],
    [['--port', '1', '--port', '2'], /only once/],
    [['--client-id='], /must not be empty/],
    [['positional'], /unknown option/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseCliArgs(argv)).toThrow(CliUsageError);
    expect(() => parseCliArgs(argv)).toThrow(message);
  });
});

describe('runCli', () => {
  let running: SpaceEmulator | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  test('--help prints the usage and exits 0', async () => {
    const c = collector();
    expect(await runCli(['--help'], c.io)).toBe(0);
    expect(c.out.join('\n')).toBe(CLI_USAGE);
    expect(CLI_USAGE).toMatch(/--rotate-refresh-tokens/);
  });

  test('a bad flag prints a message and exits 2', async () => {
    const c = collector();
    expect(await runCli(['--port', 'x'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/^space-emulator: --port expects an integer/);
    expect(c.out).toEqual([]);
  });

  test('an unknown --auto-approve user exits 2', async () => {
    const c = collector();
    expect(await runCli(['--port', '0', '--auto-approve', 'ghost'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/autoApprove/);
  });

  test('a port in use exits 1', async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const c = collector();
      expect(await runCli(['--port', String(port)], c.io)).toBe(1);
      expect(c.err.join('\n')).toMatch(/EADDRINUSE/);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  test('starts the emulator and prints the URL, credentials and .env lines', async () => {
    const c = collector();
    const result = await runCli(['--port', '0', '--client-id', 'my-app', '--client-secret', 'my-secret', '--auto-approve', 'john.doe'], c.io);
    if (typeof result === 'number') throw new Error(`exit ${result}`);
    running = result;
    const text = c.out.join('\n');
    expect(text).toContain(`Space emulator listening on ${result.url}`);
    expect(text.split('\n')).toEqual(expect.arrayContaining([`SPACE_URL=${result.url}`, 'SPACE_CLIENT_ID=my-app', 'SPACE_CLIENT_SECRET=my-secret']));
    const back = await authorize(result, { client_id: 'my-app' });
    expect(back.searchParams.get('code')).toEqual(expect.any(String));
  });
});
