import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SpaceApiError } from '../../lib/core/errors';
import { callSpace, parseJSON, type SpaceCall } from '../../lib/space/call';
import { SpaceAgents } from '../../lib/space/transport';

let server: Server;
let base: string;
let connections = 0;
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('{}');
const agents = new SpaceAgents();

beforeAll(async () => {
  server = createServer((req, res) => handler(req, res));
  server.on('connection', () => { connections += 1; });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  agents.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => { connections = 0; });

function call(path: string, extra: Partial<SpaceCall> = {}): SpaceCall {
  return { method: 'GET', url: new URL(path, base), headers: { accept: 'application/json' }, timeout: 2000, what: 'Space HTTP API', errorClass: SpaceApiError, agents, ...extra };
}

test('calls of one client reuse one keep-alive connection', async () => {
  handler = (_req, res) => res.end('{"ok":true}');
  for (let i = 0; i < 5; i++) expect((await callSpace(call('/a'))).text).toBe('{"ok":true}');
  expect(connections).toBe(1);
});

test('a redirect is returned as an answer, never followed, with its headers readable by name', async () => {
  let followed = 0;
  handler = (req, res) => {
    if (req.url === '/elsewhere') followed += 1;
    res.writeHead(302, { Location: '/elsewhere', 'Retry-After': '7' }).end();
  };
  const answer = await callSpace(call('/token'));
  expect({ status: answer.status, location: answer.headers.get('Location'), retry: answer.headers.get('retry-after'), none: answer.headers.get('x-none') })
    .toEqual({ status: 302, location: '/elsewhere', retry: '7', none: null });
  expect(followed).toBe(0);
});

test('the caller\'s AbortSignal ends a call that is waiting for its answer', async () => {
  handler = () => undefined; // never answers
  const controller = new AbortController();
  const pending = callSpace(call('/hang', { signal: controller.signal, timeout: 10_000 }));
  setTimeout(() => controller.abort(), 50);
  await expect(pending).rejects.toMatchObject({ code: 'SPACE_UNREACHABLE', message: expect.stringContaining('call was aborted') });
});

test('an already aborted signal sends nothing', async () => {
  let seen = 0;
  handler = (_req, res) => { seen += 1; res.end('{}'); };
  await expect(callSpace(call('/x', { signal: AbortSignal.abort() }))).rejects.toMatchObject({ code: 'SPACE_UNREACHABLE' });
  expect(seen).toBe(0);
});

test('a declared Content-Length over the cap is refused before the body is read', async () => {
  handler = (_req, res) => {
    res.writeHead(200, { 'content-length': String(5000) });
    res.write('x'.repeat(100)); // the rest never comes: only the declared length can end this
  };
  await expect(callSpace(call('/big', { maxBytes: 1000, timeout: 5000 }))).rejects.toMatchObject({ code: 'SPACE_INVALID_RESPONSE', message: expect.stringContaining('larger than 1000 bytes') });
});

test('a pooled connection the server dropped is replaced, and the call sent once more on a new one', async () => {
  const perSocket = new WeakMap<Socket, number>();
  let requests = 0;
  handler = (req, res) => {
    requests += 1;
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (n > 1) return void req.socket.destroy(); // a server that closed an idle connection
    res.end('{"ok":true}');
  };
  const own = new SpaceAgents();
  try {
    expect((await callSpace(call('/one', { agents: own }))).status).toBe(200);
    expect((await callSpace(call('/two', { agents: own }))).text).toBe('{"ok":true}');
    expect({ requests, connections }).toEqual({ requests: 3, connections: 2 });
  } finally {
    own.destroy();
  }
});

test('a POST on a pooled connection that ends without an answer is not sent again, and the error says why', async () => {
  // The server reads the whole request (it may have acted on it), then drops the connection
  // without answering: resending it would, for a token request, spend a code or rotate a
  // refresh token a second time.
  const perSocket = new WeakMap<Socket, number>();
  const received: string[] = [];
  handler = (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    let body = '';
    req.on('data', (chunk: Buffer) => { body += chunk.toString('utf8'); });
    req.on('end', () => {
      received.push(`${req.method} ${body}`);
      if (n > 1) return void req.socket.destroy();
      res.end('{"ok":true}');
    });
  };
  const own = new SpaceAgents();
  try {
    expect((await callSpace(call('/oauth/token', { agents: own, method: 'POST', body: 'grant_type=one' }))).status).toBe(200);
    const second = callSpace(call('/oauth/token', { agents: own, method: 'POST', body: 'grant_type=two', what: 'Space token endpoint' }));
    await expect(second).rejects.toMatchObject({
      code: 'SPACE_UNREACHABLE',
      message: expect.stringMatching(/^Space token endpoint closed a reused connection without answering \((ECONNRESET|EPIPE)\); the request was not sent again, as Space may already have processed it \(POST http:\/\/127\.0\.0\.1:\d+\/oauth\/token\)$/),
    });
    expect(received).toEqual(['POST grant_type=one', 'POST grant_type=two']);
  } finally {
    own.destroy();
  }
});

test('a refused connection names the network reason', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));
  await expect(callSpace(call(`http://127.0.0.1:${port}/x`))).rejects.toMatchObject({ code: 'SPACE_UNREACHABLE', message: expect.stringMatching(/^Could not reach Space HTTP API: ECONNREFUSED/) });
});

test('a JSON body never carries a __proto__ key, spelled out or with escapes', () => {
  for (const text of ['{"__proto__":{"x":1},"a":1}', '{"\\u005f_proto__":{"x":1},"a":1}', '{"\\u005F\\u005Fproto\\u005F\\u005F":{"x":1},"a":1}']) {
    const value = parseJSON(text) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['a']);
    expect(Object.prototype.hasOwnProperty.call(value, '__proto__')).toBe(false);
  }
  expect(parseJSON('{"name":"Jane \\u00e9"}')).toEqual({ name: 'Jane é' });
});
