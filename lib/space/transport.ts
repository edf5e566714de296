import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * The HTTP(S) transport under every call to Space: node:http / node:https through keep-alive
 * agents, one pair per SpaceClient. Global fetch costs several times more CPU per call (web
 * streams for the body, a signal combined per call, a connection per origin it manages
 * itself); a sign-in makes two calls, so that cost showed in every sign-in.
 */

/** Keep-alive agents for one client: sockets are reused across calls to the same Space. */
export class SpaceAgents {
  private http?: HttpAgent;
  private https?: HttpsAgent;

  constructor(private readonly maxSockets = 64) {}

  /** The agent for this URL's protocol, made on first use. */
  for(url: URL): HttpAgent {
    // `timeout` here only ends idle pooled sockets (before a server's own idle timeout, 5 s
    // in Node); each call has its own deadline.
    const options = { keepAlive: true, maxSockets: this.maxSockets, maxFreeSockets: 16, timeout: 4000, scheduling: 'lifo' as const };
    if (url.protocol === 'https:') return (this.https ??= new HttpsAgent(options));
    return (this.http ??= new HttpAgent(options));
  }

  /** Closes pooled sockets. */
  destroy(): void {
    this.http?.destroy();
    this.https?.destroy();
  }
}

/** The answer's headers, read the way callers read fetch's: `get(name)`, lower-case names. */
export class AnswerHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    if (value === undefined) return null;
    return Array.isArray(value) ? value.join(', ') : value;
  }
}

export interface RawAnswer {
  status: number;
  headers: AnswerHeaders;
  /** Undefined when the body passed `maxBytes` (the request was destroyed there). */
  text: string | undefined;
}

export interface SendOptions {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string | undefined;
  agent: HttpAgent;
  maxBytes: number;
  /** Ends the call: its reason becomes the error. */
  stop: (listener: (reason: Error) => void) => void;
}

/**
 * Methods sent once more after a pooled socket turned out dead: those that change nothing at
 * Space (RFC 9110 §9.2.1). Any other (a POST to the token endpoint above all) may have been
 * processed although no answer came: a code would be spent twice, a refresh token rotated twice.
 */
const RESENDABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A request on a reused keep-alive socket that ended without any answer (ECONNRESET, EPIPE),
 * which was not sent again because it is not idempotent: Space may or may not have processed it.
 */
export class NotResentError extends Error {
  constructor(readonly code: string, readonly method: string, cause: Error) {
    super(`the reused connection ended without an answer (${code}); the ${method} was not sent again, as Space may have processed it`, { cause });
    this.name = 'NotResentError';
  }
}

const targets = new WeakMap<URL, { protocol: string; hostname: string; port: string; path: string }>();

/** What node:http needs of a URL, read once per URL object (Node's own conversion reads every part, every call). */
function requestTarget(url: URL, method: string, headers: Record<string, string | number>, agent: HttpAgent): RequestOptions {
  let target = targets.get(url);
  if (!target) {
    const host = url.hostname;
    target = { protocol: url.protocol, hostname: host.startsWith('[') ? host.slice(1, -1) : host, port: url.port, path: `${url.pathname}${url.search}` };
    targets.set(url, target);
  }
  return { protocol: target.protocol, hostname: target.hostname, port: target.port, path: target.path, method, headers, agent };
}

/**
 * One request, body read in full (up to `maxBytes`). Redirects are never followed: a 3xx is an
 * answer like any other. A GET, HEAD or OPTIONS on a reused pooled socket that the server had
 * just closed (ECONNRESET or EPIPE before any answer byte) is sent once more on a new socket.
 * Any other method is not: the server may have read and processed it before the connection
 * ended (there is no telling), so the call fails with a {@link NotResentError} instead.
 */
export function send(options: SendOptions, retried = false): Promise<RawAnswer> {
  return new Promise<RawAnswer>((resolve, reject) => {
    const { url } = options;
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    let answered = false;
    let settled = false;
    const finish = (err: Error | undefined, value?: RawAnswer): void => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(value!);
    };
    const req = request(requestTarget(url, options.method, headers, options.agent), (res: IncomingMessage) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const answerHeaders = new AnswerHeaders(res.headers);
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) {
        req.destroy();
        return finish(undefined, { status, headers: answerHeaders, text: undefined });
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) {
          req.destroy();
          return finish(undefined, { status, headers: answerHeaders, text: undefined });
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, { status, headers: answerHeaders, text: chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => finish(err));
      res.on('aborted', () => finish(Object.assign(new Error('The connection closed before the answer ended'), { code: 'ECONNRESET' })));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      if (!answered && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        if (!RESENDABLE.has(options.method.toUpperCase())) return finish(new NotResentError(err.code, options.method.toUpperCase(), err));
        if (!retried) {
          settled = true;
          send(options, true).then(resolve, reject);
          return;
        }
      }
      finish(err);
    });
    options.stop((reason) => {
      req.destroy(reason);
      finish(reason);
    });
    req.end(options.body);
  });
}
