/**
 * Security headers on every response, and CSRF protection for the app's one form (sign-out).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';

/**
 * Pages load scripts, styles and images from this origin only (no inline script, no inline
 * style), post forms only to this origin, and cannot be framed. Responses are not cached
 * unless a route says otherwise (static files, avatars).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export function securityHeaders(): RequestHandler {
  return function securityHeadersMiddleware(req, res, next) {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Frame-Options': 'DENY',
      'X-Content-Type-Options': 'nosniff',
      // The sign-in callback URL carries a code: never let it travel in a Referer.
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
      'Cache-Control': 'no-store',
    });
    if (req.secure) res.set('Strict-Transport-Security', 'max-age=31536000');
    next();
  };
}

/** The session fields this file uses. */
interface CsrfSession {
  csrf?: string;
}

function sessionOf(req: Request): CsrfSession | undefined {
  return req.session as unknown as CsrfSession | undefined;
}

/**
 * The session's CSRF token, created on first use. Passport starts a new session at sign-in,
 * so every sign-in gets a new token.
 */
export function csrfToken(req: Request): string {
  const session = sessionOf(req);
  if (!session) throw new Error('csrfToken needs express-session');
  session.csrf ??= randomBytes(32).toString('base64url');
  return session.csrf;
}

/** Compares in constant time; hashing first gives both sides the same length. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Refuses (403) a form post whose `_csrf` field does not match the session's token. Mount
 * after a body parser (`express.urlencoded`).
 */
export const requireCsrf: RequestHandler = (req, _res, next) => {
  const expected = sessionOf(req)?.csrf;
  const body = req.body as Record<string, unknown> | undefined;
  const given = body?._csrf;
  if (typeof expected === 'string' && typeof given === 'string' && given !== '' && sameSecret(expected, given)) return next();
  next(Object.assign(new Error('The form has expired or did not come from this app. Reload the page and try again.'), { status: 403, expose: true }));
};
