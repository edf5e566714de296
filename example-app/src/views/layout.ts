/**
 * The page frame: head, top bar (brand, navigation, account menu with sign-out), footer.
 * Styles come from /static/app.css; the only script is /static/app.js (CSP: 'self' only).
 */
import { html, trusted, type SafeHtml } from './html';
import type { AppUser } from '../user';
import { initialsOf } from '../user';

export interface PageContext {
  /** The signed-in user, if any. */
  user?: AppUser;
  /** The session's CSRF token, for the sign-out form (only with a user). */
  csrf?: string;
  /** The Space org the app signs in with, and whether it is the built-in emulator. */
  space: { url: string; emulated: boolean };
  /** Where the "Sign in" buttons go. */
  signInHref: string;
}

export type Nav = 'home' | 'dashboard' | 'space-api' | 'admin' | 'sessions';

/** The brand mark: a small gradient tile (inline SVG: presentation attributes, no style). */
export const LOGO = trusted(
  '<svg class="logo" viewBox="0 0 32 32" aria-hidden="true" focusable="false">' +
  '<defs><linearGradient id="lg" x1="0" y1="0" x2="1" y2="1">' +
  '<stop offset="0" stop-color="#7b5cff"/><stop offset=".55" stop-color="#e0409a"/><stop offset="1" stop-color="#ff9a3c"/>' +
  '</linearGradient></defs>' +
  '<rect width="32" height="32" rx="8" fill="url(#lg)"/>' +
  '<circle cx="16" cy="16" r="7.5" fill="none" stroke="#fff" stroke-width="2.4"/>' +
  '<circle cx="23.5" cy="9" r="2.6" fill="#fff"/>' +
  '</svg>',
);

/** The user's avatar through /avatar/<id>, or their initials. */
export function avatar(user: AppUser, size: 'sm' | 'lg'): SafeHtml {
  if (user.avatar) {
    return html`<img class="avatar avatar-${size}" src="/avatar/${encodeURIComponent(user.avatar)}" alt="${user.displayName}" width="${size === 'lg' ? 96 : 32}" height="${size === 'lg' ? 96 : 32}">`;
  }
  return html`<span class="avatar avatar-${size} avatar-initials" role="img" aria-label="${user.displayName}">${initialsOf(user)}</span>`;
}

function navLink(href: string, label: string, active: boolean): SafeHtml {
  return html`<a href="${href}"${active ? trusted(' aria-current="page"') : ''}>${label}</a>`;
}

function topBar(ctx: PageContext, nav: Nav): SafeHtml {
  const account = ctx.user
    ? html`
      <nav class="nav" aria-label="Main">
        ${navLink('/dashboard', 'Dashboard', nav === 'dashboard')}
        ${navLink('/space-api', 'Space API', nav === 'space-api')}
        ${navLink('/admin', 'Admin', nav === 'admin')}
        ${navLink('/sessions', 'Sessions', nav === 'sessions')}
      </nav>
      <div class="account">
        ${avatar(ctx.user, 'sm')}
        <span class="account-name">${ctx.user.displayName}</span>
        <form method="post" action="/auth/signout" class="signout">
          <input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">
          <button type="submit" class="button button-quiet">Sign out</button>
        </form>
      </div>`
    : html`<div class="account"><a class="button button-small" href="${ctx.signInHref}">Sign in</a></div>`;
  return html`
    <header class="topbar">
      <div class="topbar-inner">
        <a class="brand" href="/">${LOGO}<span>Orbit</span><span class="brand-tag">example app</span></a>
        ${account}
      </div>
    </header>`;
}

function footer(ctx: PageContext): SafeHtml {
  const where = ctx.space.emulated
    ? html`Sign-in goes through the built-in <strong>Space emulator</strong> at <code>${ctx.space.url}</code>.`
    : html`Sign-in goes through <code>${ctx.space.url}</code>.`;
  return html`
    <footer class="footer">
      <p>${where}</p>
      <p>Built with <code>passport-jetbrains-space</code>, Express and Passport. Space tokens stay on the server.</p>
    </footer>`;
}

export function layout(ctx: PageContext, page: { title: string; nav: Nav; body: SafeHtml; bodyClass?: string }): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${page.title} · Orbit</title>
<link rel="stylesheet" href="/static/app.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<script src="/static/app.js" defer></script>
</head>
<body class="${page.bodyClass ?? ''}">
${topBar(ctx, page.nav)}
<main class="main">
${page.body}
</main>
${footer(ctx)}
</body>
</html>
`.value;
}
