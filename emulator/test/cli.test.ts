/**
 * The `space-emulator` CLI, in-process: argument parsing, help, errors and a running emulator.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SpaceEmulator } from 'passport-jetbrains-space/emulator';
import { CLI_FLAGS, CLI_USAGE, CliUsageError, isLoopbackHost, parseCliArgs, runCli } from '../src/cli';
import { api, authorize, signIn } from '../../__tests__/helpers/emulator';

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

describe('organization, users and directory flags', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'space-emulator-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: unknown): string => {
    const full = path.join(dir, name);
    writeFileSync(full, typeof content === 'string' ? content : JSON.stringify(content));
    return full;
  };
  const optionsOf = (argv: string[]) => {
    const args = parseCliArgs(argv);
    if (args.help || args.version) throw new Error('expected options');
    return args.options;
  };

  test('--help documents every flag', () => {
    for (const flag of CLI_FLAGS) expect([flag, CLI_USAGE.includes(flag)]).toEqual([flag, true]);
    expect(CLI_FLAGS).toEqual(expect.arrayContaining(['--version', '--user', '--users-file', '--org-name', '--directory-file']));
  });

  test('--version is a request of its own, like --help', () => {
    expect(parseCliArgs(['--version', '--port', '1'])).toEqual({ help: false, version: true });
    expect(() => parseCliArgs(['--version=1'])).toThrow(/takes no value/);
  });

  test('--org-name and --org-slogan set the organization', () => {
    expect(optionsOf(['--org-name', 'Initech']).organization).toEqual({ name: 'Initech' });
    expect(optionsOf(['--org-name=Initech', '--org-slogan', 'TPS']).organization).toEqual({ name: 'Initech', slogan: 'TPS' });
    expect(optionsOf([]).organization).toBeUndefined();
  });

  test('--user adds members: default users by username, others with a name', () => {
    const users = optionsOf(['--user', 'jane.roe', '--user', 'alice.smith:Alice van Smith', '--user', 'bob']).users!;
    expect(users.map((u) => [u.username, u.firstName, u.lastName])).toEqual([
      ['jane.roe', 'Jane', 'Roe'],
      ['alice.smith', 'Alice', 'van Smith'],
      ['bob', 'Bob', ''],
    ]);
    expect(users[0]!.id).toBe('3bTgo35Ky7v');
    expect(new Set(users.map((u) => u.id)).size).toBe(3);
    expect(() => parseCliArgs(['--user', ':Nobody'])).toThrow(/--user needs a username/);
  });

  test('--users-file and --directory-file read JSON; bad files are usage errors', () => {
    const users = file('users.json', [{ id: 'u1', username: 'ann', firstName: 'Ann', lastName: 'Lee' }]);
    const directory = file('dir.json', { teams: [{ id: 't', name: 'T' }], roles: [{ id: 'r', name: 'R' }], memberships: [{ member: 'ann', teamId: 't' }] });
    const options = optionsOf(['--users-file', users, '--user', 'john.doe', '--directory-file', directory]);
    expect(options.users!.map((u) => u.username)).toEqual(['ann', 'john.doe']);
    expect(options.teams).toEqual([{ id: 't', name: 'T' }]);
    expect(options.memberships).toEqual([{ member: 'ann', teamId: 't' }]);
    expect(() => parseCliArgs(['--users-file', path.join(dir, 'missing.json')])).toThrow(/--users-file: cannot read .*ENOENT/);
    expect(() => parseCliArgs(['--users-file', file('bad.json', '[{')])).toThrow(/not valid JSON/);
    expect(() => parseCliArgs(['--users-file', file('obj.json', {})])).toThrow(/JSON array/);
    expect(() => parseCliArgs(['--directory-file', file('arr.json', [])])).toThrow(/JSON object/);
    expect(() => parseCliArgs(['--directory-file', file('extra.json', { team: [] })])).toThrow(/unknown key "team"/);
  });

  test('--max-recorded-requests takes a positive integer', () => {
    expect(optionsOf(['--max-recorded-requests', '50']).maxRecordedRequests).toBe(50);
    expect(() => parseCliArgs(['--max-recorded-requests', '0'])).toThrow(/expects an integer/);
  });

  test('a users file with a bad user exits 2 naming the option', async () => {
    const c = collector();
    expect(await runCli(['--port', '0', '--users-file', file('nameless.json', [{ id: 'x' }])], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/users\[\]\.username/);
  });

  test('the emulator started from files serves those users, teams and the organization', async () => {
    const users = file('users2.json', [{ id: 'u1', username: 'ann', firstName: 'Ann', lastName: 'Lee' }]);
    const directory = file('dir2.json', { teams: [{ id: 'root', name: 'Initech' }, { id: 'qa', name: 'QA', parentId: 'root' }], roles: [{ id: 'r', name: 'Tester' }], memberships: [{ member: 'ann', teamId: 'qa', lead: true }] });
    const c = collector();
    const result = await runCli(['--port', '0', '--users-file', users, '--directory-file', directory, '--org-name', 'Initech', '--auto-approve', 'ann'], c.io);
    if (typeof result === 'number') throw new Error(`exit ${result}: ${c.err.join('\n')}`);
    try {
      expect(c.out.join('\n')).toMatch(/organization: +Initech/);
      expect(c.err).toEqual([]);
      const { access_token } = await signIn(result, { scope: '**' });
      expect(await (await api(result, '/api/http/organization', access_token)).json()).toMatchObject({ name: 'Initech' });
      const batch = (await (await api(result, '/api/http/team-directory/memberships?profiles=me', access_token)).json()) as { data: { member: { username: string }; team: { name: string; parent: { name: string } }; role: { name: string } }[] };
      expect(batch.data.map((m) => [m.member.username, m.team.name, m.team.parent.name, m.role.name])).toEqual([['ann', 'QA', 'Initech', 'Tester']]);
    } finally {
      await result.close();
    }
  });

  test.each([
    ['127.0.0.1', true], ['127.8.9.10', true], ['localhost', true], ['LOCALHOST', true], ['::1', true], ['[::1]', true],
    ['0:0:0:0:0:0:0:1', true], ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false], ['::', false], ['192.168.1.5', false], ['128.0.0.1', false], ['example.com', false], ['localhost.example.com', false],
  ])('isLoopbackHost(%s) is %s', (host, expected) => {
    expect(isLoopbackHost(host)).toBe(expected);
  });
});

describe('the built space-emulator bin', () => {
  const root = path.join(__dirname, '..', '..');
  const bin = path.join(root, 'dist', 'emulator', 'cli.js');
  beforeAll(() => {
    if (!existsSync(bin)) throw new Error('dist/emulator/cli.js is missing: run `npm run build` first');
  });

  test('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(execFileSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })).toBe(`${version}\n`);
  });

  /** Starts the bin, waits for its banner, stops it with SIGTERM; resolves to what it printed. */
  function runUntilListening(args: string[]): Promise<{ out: string; err: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('SPACE_CLIENT_SECRET=')) process.kill(child.pid!, 'SIGTERM');
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('exit', () => resolve({ out, err }));
    });
  }

  test('warns on stderr when --host is not a loopback address', async () => {
    const { out, err } = await runUntilListening(['--host', '0.0.0.0', '--port', '0']);
    expect(out).toMatch(/Space emulator listening on http:\/\/0\.0\.0\.0:\d+/);
    expect(err).toMatch(/warning: --host 0\.0\.0\.0 is not a loopback address/);
  });

  test('says nothing on stderr before shutdown for a loopback --host', async () => {
    const { err } = await runUntilListening(['--host', '127.0.0.1', '--port', '0']);
    expect(err).not.toMatch(/warning/);
  });
});
