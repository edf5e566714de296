import type { Request } from 'express';

/**
 * express-session's `req.session`, as the library sees it, without depending on
 * express-session's type augmentation (an optional peer's types).
 */
export type Session = Record<string, unknown> & {
  cookie?: { maxAge?: number | null; originalMaxAge?: number | null };
  save?: (cb: (err?: unknown) => void) => void;
  destroy?: (cb: (err?: unknown) => void) => void;
  regenerate?: unknown;
};

/** `req.session`, or undefined when express-session is not mounted before this point. */
export function sessionOf(req: Request): Session | undefined {
  return (req as unknown as { session?: Session }).session;
}


export function destroySession(req: Request): Promise<void> {
  const session = sessionOf(req);
  if (!session?.destroy) return Promise.resolve();
  return new Promise((resolve, reject) => session.destroy!((err) => (err ? reject(err) : resolve())));
}

/** Milliseconds the session has left, when its cookie has an expiry. */
export function sessionLife(req: Request): number | undefined {
  const maxAge = sessionOf(req)?.cookie?.maxAge;
  return typeof maxAge === 'number' && maxAge > 0 ? maxAge : undefined;
}
