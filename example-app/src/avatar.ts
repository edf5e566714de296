/**
 * `GET /avatar/:id`: the signed-in user's Space avatar, proxied.
 *
 * Space serves attachments (`<spaceURL>/d/<id>`) only with a bearer token, so an <img> on
 * our page cannot load them directly, and the token must never reach the browser. This
 * route fetches the image as the user and streams it back. It serves only the signed-in
 * user's own avatar id (not an open proxy into Space), only images, at most 5 MB.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RequestHandler } from 'express';
import type { SpaceStrategy } from 'passport-jetbrains-space';
import { currentUser } from './user';

const MAX_BYTES = 5 * 1024 * 1024;
const TIMEOUT_MS = 5000;
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/avif', 'image/svg+xml'];

/** Stops a stream that grows beyond `max` bytes. */
function limit(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      seen += chunk.length;
      done(seen > max ? new Error(`avatar larger than ${max} bytes`) : null, chunk);
    },
  });
}

export function avatarRoute(strategy: SpaceStrategy): RequestHandler {
  return async function avatar(req, res, next) {
    const user = currentUser(req);
    const id = req.params.id;
    const tokens = req.spaceTokens;
    // Someone else's id, or a guessed one: not found, whether or not it exists.
    if (!user || !tokens || !id || id !== user.avatar) {
      res.status(404).type('text').send('Not found');
      return;
    }
    let answer: Response;
    try {
      answer = await fetch(`${strategy.spaceURL}/d/${encodeURIComponent(id)}`, {
        headers: { Authorization: `Bearer ${tokens.accessToken}`, Accept: IMAGE_TYPES.join(', ') },
        // Space may answer with a redirect to its file storage; fetch drops the Authorization
        // header when a redirect leaves Space's origin.
        redirect: 'follow',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const timedOut = err instanceof Error && err.name === 'TimeoutError';
      res.status(timedOut ? 504 : 502).type('text').send('Space did not send the avatar');
      return;
    }
    const type = (answer.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const length = Number(answer.headers.get('content-length') ?? 0);
    if (!answer.ok || !answer.body || !IMAGE_TYPES.includes(type) || length > MAX_BYTES) {
      await answer.body?.cancel().catch(() => undefined);
      res.status(answer.status === 404 ? 404 : 502).type('text').send('Space did not send the avatar');
      return;
    }
    res.set({
      'Content-Type': type,
      'Cache-Control': 'private, max-age=300',
      // An SVG opened on its own is a document: no scripts, nothing loaded, styles only.
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
      'Content-Disposition': 'inline',
      Vary: 'Cookie',
    });
    // No Content-Length: fetch has already undone any Content-Encoding, so Space's is not ours.
    try {
      await pipeline(Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream), limit(MAX_BYTES), res);
    } catch (err) {
      // Headers are out: all we can do is cut the response short.
      if (!res.headersSent) next(err);
      else res.destroy();
    }
  };
}
