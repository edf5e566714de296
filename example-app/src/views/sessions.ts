/** "Your sessions": every browser signed in to Orbit as you, and "Sign out everywhere". */
import type { SpaceSessionInfo } from 'passport-jetbrains-space';
import type { AppUser } from '../user';
import { html } from './html';
import { layout, type PageContext } from './layout';

function ago(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 90) return 'just now';
  if (s < 5400) return `${Math.round(s / 60)} minutes ago`;
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

export function sessionsPage(ctx: PageContext, input: { user: AppUser; sessions: SpaceSessionInfo[]; now: number }): string {
  const rows = input.sessions.map((s) => html`
    <li class="session${s.current ? ' session-current' : ''}">
      <span class="session-agent">${s.agent}</span>
      ${s.current ? html`<span class="pill pill-ok">This browser</span>` : ''}
      <span class="muted">signed in ${ago(s.startedAt, input.now)}, last seen ${ago(s.lastSeen, input.now)}</span>
    </li>`);
  const body = html`
    <section class="card">
      <h1>Your sessions</h1>
      <p class="lead">Where you, <strong>@${input.user.username}</strong>, are signed in to Orbit.</p>
      <ul class="sessions" id="sessions">${rows}</ul>
      <form method="post" action="/sessions/end-all">
        <input type="hidden" name="_csrf" value="${ctx.csrf ?? ''}">
        <button type="submit" class="button button-primary">Sign out everywhere</button>
      </form>
      <p class="muted">Signs out every browser above, this one included, and revokes their access at Space.</p>
    </section>`;
  return layout(ctx, { title: 'Your sessions', nav: 'sessions', body, bodyClass: 'page-sessions' });
}
