/**
 * HTTP plumbing of the emulator: reading bodies under a size cap, writing replies (optionally
 * dripped), cancellable delays, connection resets, and tracking sockets so `close()` ends even
 * with hung requests open (otherwise jest would wait for them).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Reply } from './reply.js';

/** A request body read under a cap. */
export interface BodyResult {
  body: Buffer;
  /** The body exceeded the cap; `body` is empty. */
  tooLarge: boolean;
  /** The client went away before the body ended. */
  aborted: boolean;
}

/** Past the cap the body is still drained (so the client can read the 413) up to this size; then the socket is cut. */
const DRAIN_LIMIT = 16 * 1024 * 1024;

interface Pending {
  timer: NodeJS.Timeout;
  finish: () => void;
}

/** Socket, timer and body handling for one server. */
export class Transport {
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<Pending>();
  private closed = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  /** True once `shutdown` ran; handlers stop before answering. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves after `ms`, or at once when the emulator closes. */
  sleep(ms: number): Promise<void> {
    return this.every(ms, () => true, false);
  }

  /** Runs `tick` every `ms` until it returns true or the emulator closes (then resolves either way). */
  private every(ms: number, tick: () => boolean, repeat = true): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      const entry: Pending = {
        timer: (repeat ? setInterval : setTimeout)(() => {
          if (tick() || !repeat) entry.finish();
        }, ms),
        finish: () => {
          clearTimeout(entry.timer);
          this.pending.delete(entry);
          resolve();
        },
      };
      this.pending.add(entry);
    });
  }

  /** Reads the whole body, keeping at most `limit` bytes. Never rejects. */
  readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (aborted: boolean): void => {
        if (done) return;
        done = true;
        const tooLarge = size > limit;
        resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge, aborted });
      };
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= limit) chunks.push(chunk);
        else chunks.length = 0;
        if (size > DRAIN_LIMIT) {
          req.socket.destroy();
          finish(true);
        }
      });
      req.once('end', () => finish(false));
      req.once('error', () => finish(true));
      req.once('close', () => finish(!req.complete));
    });
  }

  /** Writes `reply`; with `dripBytesPerSecond` the body goes out a byte (or a few) per tick. */
  async write(res: ServerResponse, reply: Reply, dripBytesPerSecond?: number): Promise<void> {
    if (this.closed || res.destroyed || res.headersSent) return;
    res.statusCode = reply.status;
    for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    if (!res.hasHeader('content-length')) res.setHeader('Content-Length', reply.body.length);
    const { body } = reply;
    if (dripBytesPerSecond === undefined || body.length === 0) {
      res.end(body);
      return;
    }
    res.flushHeaders();
    // Timers below ~1 ms are not real, so fast rates send several bytes per tick.
    const interval = Math.max(1, 1000 / dripBytesPerSecond);
    const perTick = Math.max(1, Math.round((dripBytesPerSecond * interval) / 1000));
    let offset = 0;
    await this.every(interval, () => {
      if (res.destroyed) return true;
      res.write(body.subarray(offset, offset + perTick));
      offset += perTick;
      if (offset < body.length) return false;
      res.end();
      return true;
    });
  }

  /** Drops the connection without an answer; a TCP RST where the platform allows it. */
  reset(req: IncomingMessage): void {
    const socket = req.socket;
    try {
      socket.resetAndDestroy();
    } catch {
      socket.destroy();
    }
  }

  /** Cancels delays and drips and destroys every socket, including hung ones. */
  shutdown(): void {
    this.closed = true;
    for (const entry of [...this.pending]) entry.finish();
    for (const socket of this.sockets) socket.destroy();
  }
}
