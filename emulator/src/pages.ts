/**
 * HTML pages of the emulator: the sign-in (consent) page and the authorization error page.
 *
 * Both are self-contained (inline CSS, no scripts, no external resources) and escape every value,
 * since client ids, scopes and user names are test input and may be hostile on purpose
 * (SECURITY.md). The headers forbid framing (clickjacking on a consent page,
 * RFC 6749 §10.13) and caching, and the CSP allows only the page's own styles and a form
 * submission to the emulator itself and to the client's redirect origin.
 */
import { randomBytes } from 'node:crypto';
import { colourFor, escapeXml as esc, initials } from './avatars.js';
import type { SpaceEmulatorUser } from './options.js';
import { bodyReply, type Reply } from './reply.js';

const STYLE = `
  :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f2f3f7; color: #1f2329; }
  main { width: min(440px, calc(100vw - 32px)); background: #fff; border-radius: 16px; padding: 32px;
    box-shadow: 0 1px 2px rgb(0 0 0 / 6%), 0 8px 24px rgb(0 0 0 / 8%); }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #6b7080; font-size: 13px; margin: 0 0 24px; }
  .app { font-size: 14px; margin: 0 0 8px; }
  code { font-family: ui-monospace, Menlo, monospace; background: #f2f3f7; padding: 1px 6px; border-radius: 6px; word-break: break-all; }
  .scopes { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 24px; padding: 0; list-style: none; }
  .scopes li { font: 12px ui-monospace, Menlo, monospace; background: #eef1fd; color: #2c4bc7; padding: 3px 8px; border-radius: 999px; }
  .users { display: grid; gap: 8px; }
  button { font: inherit; cursor: pointer; border-radius: 10px; }
  .user { display: flex; align-items: center; gap: 12px; width: 100%; text-align: left; padding: 10px 12px;
    background: #fff; border: 1px solid #dfe1e8; }
  .user:hover, .user:focus-visible { border-color: #2c4bc7; background: #f7f8fe; outline: none; }
  .badge { flex: none; width: 36px; height: 36px; border-radius: 50%; display: grid; place-items: center;
    color: #fff; font-weight: 600; font-size: 14px; }
  .name { display: block; font-weight: 600; font-size: 14px; }
  .username { display: block; color: #6b7080; font-size: 12px; }
  .deny { margin-top: 16px; width: 100%; padding: 10px; background: none; border: 1px solid transparent; color: #b3261e; }
  .deny:hover, .deny:focus-visible { border-color: #f0c8c5; background: #fdf3f2; outline: none; }
  .error { color: #b3261e; font-weight: 600; }
  footer { margin-top: 24px; color: #9a9eab; font-size: 12px; text-align: center; }
`;

function securityHeaders(nonce: string, formTargets: string): Record<string, string> {
  return {
    // form-action must include the client's origin: browsers apply it to the redirect after the POST.
    'Content-Security-Policy':
      `default-src 'none'; style-src 'nonce-${nonce}'; form-action ${formTargets}; ` +
      `frame-ancestors 'none'; base-uri 'none'`,
    'X-Frame-Options': 'DENY',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Referrer-Policy': 'no-referrer',
  };
}

function layout(title: string, nonce: string, content: string, extraStyle = ''): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="robots" content="noindex">',
    `<title>${esc(title)}</title>`,
    `<style nonce="${nonce}">${STYLE}${extraStyle}</style>`,
    '</head><body><main>',
    content,
    '<footer>JetBrains Space emulator, for tests only</footer>',
    '</main></body></html>',
  ].join('\n');
}

/** What the sign-in page needs to render. */
export interface SignInPageInput {
  organization: string;
  clientID: string;
  scope: string;
  users: readonly SpaceEmulatorUser[];
  /** The authorization parameters, sent back in hidden fields. */
  hidden: Record<string, string>;
  /** Origin of the validated redirect URI (allowed as a form target by the CSP). */
  redirectOrigin: string;
}

/** The sign-in page: one button per user and a Deny button, POSTing to `/oauth/auth/approve`. */
export function signInPage(input: SignInPageInput): Reply {
  const nonce = randomBytes(16).toString('base64');
  const title = `Sign in to ${input.organization} — Space emulator`;
  const hidden = Object.entries(input.hidden)
    .map(([name, value]) => `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`)
    .join('\n');
  const scopes = input.scope
    .split(' ')
    .filter(Boolean)
    .map((s) => `<li>${esc(s)}</li>`)
    .join('');
  // Badge colours go into the nonce'd style element, so the CSP needs no inline style attributes.
  const badgeStyle = input.users.map((u, i) => `.badge-${i} { background: ${colourFor(u.id)}; }`).join('\n');
  const users = input.users
    .map(
      (u, i) =>
        `<button class="user" type="submit" name="user" value="${esc(u.id)}">` +
        `<span class="badge badge-${i}" aria-hidden="true">${esc(initials(u))}</span>` +
        `<span><span class="name">${esc(`${u.firstName} ${u.lastName}`)}</span>` +
        `<span class="username">@${esc(u.username)}</span></span></button>`,
    )
    .join('\n');
  const content = [
    `<h1>Sign in to ${esc(input.organization)}</h1>`,
    '<p class="sub">Space emulator: choose a user to continue</p>',
    `<p class="app">The application <code>${esc(input.clientID)}</code> asks for:</p>`,
    `<ul class="scopes">${scopes}</ul>`,
    '<form method="post" action="/oauth/auth/approve">',
    hidden,
    `<div class="users">${users || '<p>No users are configured.</p>'}</div>`,
    '<button class="deny" type="submit" name="deny" value="1">Deny</button>',
    '</form>',
  ].join('\n');
  const headers = securityHeaders(nonce, `'self' ${input.redirectOrigin}`);
  return bodyReply(200, 'text/html; charset=utf-8', layout(title, nonce, content, badgeStyle), headers);
}

/**
 * The page for authorization errors that must not redirect: an unknown client or a redirect URI
 * that is not registered (RFC 6749 §4.1.2.1: "MUST NOT automatically redirect").
 */
export function errorPage(status: number, error: string, description: string): Reply {
  const nonce = randomBytes(16).toString('base64');
  const content = [
    '<h1>Sign-in request rejected</h1>',
    '<p class="sub">Space emulator</p>',
    `<p class="error">${esc(error)}</p>`,
    `<p>${esc(description)}</p>`,
  ].join('\n');
  return bodyReply(status, 'text/html; charset=utf-8', layout(`Error: ${error} — Space emulator`, nonce, content), securityHeaders(nonce, "'none'"));
}
