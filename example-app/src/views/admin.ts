/** The Platform admin page: only members of Platform (or a team under it) get here. */
import type { SpaceMember } from 'passport-jetbrains-space';
import { html } from './html';
import { layout, type PageContext } from './layout';

export function adminPage(ctx: PageContext, input: { team: string; member: SpaceMember }): string {
  const via = input.member.teams.filter((t) => t.path.includes(input.team));
  const body = html`
    <section class="card">
      <p class="eyebrow">Team rule: <code>spaceAuthorize({ teams: ['${input.team}'] })</code></p>
      <h1 id="admin-title">${input.team} admin</h1>
      <p class="lead">You may see this page because Space lists you in ${via.map((t, i) => html`${i ? ', ' : ''}<strong>${t.path.join(' › ')}</strong>`)}.</p>
      <p class="muted">Removed from the team in Space? This page closes to you within ten minutes, without a new sign-in.</p>
    </section>`;
  return layout(ctx, { title: `${input.team} admin`, nav: 'admin', body, bodyClass: 'page-admin' });
}
