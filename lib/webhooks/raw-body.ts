import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The request body's exact bytes, kept by `express.json({ verify: spaceRawBody })`. */
      rawBody?: Buffer;
    }
  }
}

/** What a wrong mounting of {@link spaceRawBody} is told. */
export const RAW_BODY_MISUSE = 'spaceRawBody is a body parser\'s verify hook, not a middleware: '
  + 'mount app.use(express.json({ verify: spaceRawBody })), not app.use(spaceRawBody)';

/**
 * A `verify` hook for Express's body parsers that keeps the exact body bytes in `req.rawBody`,
 * so signatures can be checked after `express.json()` has parsed the body:
 * `app.use(express.json({ verify: spaceRawBody }))`.
 *
 * Mounted by mistake as a middleware (`app.use(spaceRawBody)`), it is called as
 * `(req, res, next)`: it then passes a TypeError saying how to mount it to `next`, so every
 * request fails loudly instead of hanging. (It keeps three parameters: with four, Express would
 * take it for an error handler and skip it silently.)
 */
export function spaceRawBody(req: IncomingMessage, _res: unknown, buf: Buffer): void {
  const third: unknown = buf;
  if (typeof third === 'function') return void (third as (err: unknown) => void)(new TypeError(RAW_BODY_MISUSE));
  if (!Buffer.isBuffer(third)) throw new TypeError(RAW_BODY_MISUSE);
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = third;
}

/** The raw body, or why it cannot be had. */
export type RawBody = { ok: true; body: Buffer } | { ok: false; reason: 'consumed' | 'too-large' | 'aborted' };

/**
 * The body's exact bytes: `req.rawBody` when a parser kept them, a Buffer from `express.raw()`,
 * or read from the stream (at most `maxBytes`) when nothing has read it yet. A parser that
 * consumed the stream without keeping the bytes leaves nothing to verify: 'consumed'.
 */
export function readRawBody(req: Request, maxBytes: number): Promise<RawBody> {
  if (Buffer.isBuffer(req.rawBody)) return Promise.resolve({ ok: true, body: req.rawBody });
  if (typeof (req.rawBody as unknown) === 'string') return Promise.resolve({ ok: true, body: Buffer.from(req.rawBody as unknown as string, 'utf8') });
  if (Buffer.isBuffer(req.body)) return Promise.resolve({ ok: true, body: req.body });
  // body-parser marks what it read with `_body`; any other reader leaves the stream ended or flowing.
  if ((req as { _body?: unknown })._body === true || req.readableEnded || req.readableFlowing !== null) {
    return Promise.resolve({ ok: false, reason: 'consumed' });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: RawBody): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        return done({ ok: false, reason: 'too-large' });
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => done({ ok: true, body: Buffer.concat(chunks) });
    const onError = (): void => done({ ok: false, reason: 'aborted' });
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}
