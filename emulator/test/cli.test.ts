/**
 * The `space-emulator` CLI, in-process: argument parsing, help, errors and a running emulator.
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { startSpaceEmulator, type SpaceEmulator, type SpaceEmulatorMintedToken } from 'passport-jetbrains-space/emulator';
import { CLI_FLAGS, CLI_USAGE, CliUsageError, isLoopbackHost, parseCliArgs, runCli } from '../src/cli';
import { api, authorize, PROFILE, signIn } from '../../__tests__/helpers/emulator';

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

describe('tokens for testing an API: --print-token, --print-app-token and POST /_emulator/tokens', () => {
  let running: SpaceEmulator | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  /** Who the emulator's API says a token belongs to. */
  async function whoseToken(space: SpaceEmulator, token: string): Promise<string> {
    const asUser = await api(space, `${PROFILE}?$fields=username`, token);
    if (asUser.status === 200) return `user ${((await asUser.json()) as { username: string }).username}`;
    const asApp = await api(space, '/api/http/applications/me', token);
    if (asApp.status === 200) return `application ${((await asApp.json()) as { clientId: string }).clientId}`;
    return `refused ${asUser.status}/${asApp.status}`;
  }

  test('parseCliArgs: --print-token repeats, --print-app-token takes no value; without them there is nothing to print', () => {
    expect(parseCliArgs(['--print-token', 'john.doe', '--print-token=jane.roe', '--print-app-token'])).toMatchObject({ tokens: { users: ['john.doe', 'jane.roe'], app: true } });
    expect(parseCliArgs(['--print-app-token'])).toMatchObject({ tokens: { users: [], app: true } });
    expect(parseCliArgs([])).not.toHaveProperty('tokens');
    expect(() => parseCliArgs(['--print-app-token=yes'])).toThrow(/takes no value/);
    expect(() => parseCliArgs(['--print-token'])).toThrow(/--print-token needs a value/);
    expect(() => parseCliArgs(['--print-token='])).toThrow(/must not be empty/);
  });

  test('prints a personal token per --print-token user and an application token, each accepted by the API as its owner', async () => {
    const c = collector();
    const result = await runCli(['--port', '0', '--client-id', 'my-app', '--print-token', 'jane.roe', '--print-token', '2asfen24Jx6u', '--print-app-token'], c.io);
    if (typeof result === 'number') throw new Error(`exit ${result}: ${c.err.join('\n')}`);
    running = result;
    const lines = c.out.join('\n').split('\n');
    const token = (label: string) => lines.find((l) => l.startsWith(`${label}: `))?.slice(label.length + 2) ?? '';
    expect(await whoseToken(result, token('jane.roe'))).toBe('user jane.roe');
    expect(await whoseToken(result, token('john.doe'))).toBe('user john.doe');
    expect(await whoseToken(result, token('application my-app'))).toBe('application my-app');
    expect(c.out.join('\n')).toContain(`POST ${result.url}/_emulator/tokens`);
  });

  test('an unknown --print-token user exits 2 and leaves no server running', async () => {
    const c = collector();
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as { port: number }).port;
        probe.close(() => resolve(p));
      });
    });
    expect(await runCli(['--port', String(port), '--print-token', 'ghost'], c.io)).toBe(2);
    expect(c.err.join('\n')).toMatch(/--print-token: no user with id or username "ghost"/);
    expect(c.out).toEqual([]);
    // The port is free again: the emulator that started was closed.
    const again = await runCli(['--port', String(port)], collector().io);
    if (typeof again === 'number') throw new Error(`port ${port} still taken (exit ${again})`);
    running = again;
  });

  test('POST /_emulator/tokens mints personal and application tokens, as JSON or bare text', async () => {
    running = await startSpaceEmulator({ port: 0 });
    const mint = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${running!.url}/_emulator/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers }, body });

    const personal = await mint('user=john.doe&expiresIn=3600');
    expect(personal.status).toBe(200);
    expect(personal.headers.get('cache-control')).toBe('no-store');
    const minted = (await personal.json()) as SpaceEmulatorMintedToken;
    expect(minted).toEqual({ token: expect.any(String), principal: 'user', username: 'john.doe', expiresIn: 3600 });
    expect(await whoseToken(running, minted.token)).toBe('user john.doe');

    const app = (await (await mint('app=')).json()) as SpaceEmulatorMintedToken;
    expect(app).toMatchObject({ principal: 'application', clientId: 'space-emulator-client', expiresIn: null });
    expect(await whoseToken(running, app.token)).toBe('application space-emulator-client');

    const text = await mint('user=jane.roe', { Accept: 'text/plain' });
    expect(text.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await whoseToken(running, (await text.text()).trim())).toBe('user jane.roe');

    const viaQuery = await fetch(`${running.url}/_emulator/tokens?user=jane.roe`, { method: 'POST' });
    expect(viaQuery.status).toBe(200);
  });

  test.each([
    ['', 400, 'invalid-request'],
    ['user=john.doe&app=', 400, 'invalid-request'],
    ['user=john.doe&user=jane.roe', 400, 'invalid-request'],
    ['user=john.doe&expiresIn=0', 400, 'invalid-request'],
    ['user=john.doe&expiresIn=1.5', 400, 'invalid-request'],
    ['user=john.doe&scope=', 400, 'invalid-request'],
    ['user=ghost', 404, 'not-found'],
    ['app=no-such-app', 404, 'not-found'],
  ])('POST /_emulator/tokens with %j answers %i %s, echoing nothing', async (body, status, error) => {
    running = await startSpaceEmulator({ port: 0 });
    const res = await fetch(`${running.url}/_emulator/tokens`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    const answer = (await res.json()) as { error: string; error_description: string };
    expect({ status: res.status, error: answer.error }).toEqual({ status, error });
    expect(answer.error_description).not.toMatch(/ghost|no-such-app/);
  });

  test('GET /_emulator/tokens is 405: minting takes a POST', async () => {
    running = await startSpaceEmulator({ port: 0 });
    const res = await fetch(`${running.url}/_emulator/tokens?user=john.doe`);
    expect(res.status).toBe(405);
  });

  // A caller on another address of this machine is not a loopback caller. Machines with no
  // address but loopback cannot run this test.
  const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  (external ? test : test.skip)(`refuses callers that are not on a loopback address (${external ?? 'none here'}) with 403`, async () => {
    running = await startSpaceEmulator({ port: 0, host: '0.0.0.0' });
    const res = await fetch(`http://${external}:${running.port}/_emulator/tokens`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=john.doe',
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: string }).error).toBe('permission-denied');
    const local = await fetch(`http://127.0.0.1:${running.port}/_emulator/tokens`, {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'user=john.doe',
    });
    expect(local.status).toBe(200);
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
