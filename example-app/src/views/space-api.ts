/**
 * The "Space API" page: live calls to Space as the user, and the access token's life (its
 * remaining time and renewals, never the token itself).
 */
import type { TokenWatch } from '../renewals';
import { html, type SafeHtml } from './html';
import { layout, type PageContext } from './layout';

export interface ApiCall {
  /** e.g. `GET /api/http/organization?$fields=id,name` */
  label: string;
  ms: number;
  result: { ok: true; json: unknown } | { ok: false; message: string };
}

export interface SpaceApiInput {
  now: number;
  token: { expiresAt: number; scope: string | undefined; hasRefreshToken: boolean };
  watch: TokenWatch | undefined;
  /** Renewal threshold in ms: the library renews when less than this is left. */
  renewWithin: number;
  process: { renewed: number; adopted: number; failed: number };
  calls: ApiCall[];
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))} s`;
}

function clock(ms: number | undefined): string {
  return ms === undefined ? '—' : new Date(ms).toISOString().slice(11, 19) + ' UTC';
}

function callCard(call: ApiCall): SafeHtml {
  const status = call.result.ok
    ? html`<span class="pill pill-ok">200 OK</span>`
    : html`<span class="pill pill-bad">Failed</span>`;
  const content = call.result.ok
    ? html`<pre class="json"><code>${JSON.stringify(call.result.json, null, 2)}</code></pre>`
    : html`<p class="alert">${call.result.message}</p>`;
  return html`
    <article class="card call">
      <header class="call-head"><code class="call-label">${call.label}</code>${status}<span class="muted">${call.ms} ms</span></header>
      ${content}
    </article>`;
}

export function spaceApiPage(ctx: PageContext, input: SpaceApiInput): string {
  const { token, watch } = input;
  const left = token.expiresAt - input.now;
  const lifetime = watch ? Math.max(1000, token.expiresAt - watch.seenAt) : Math.max(1000, left);
  const renewals = watch?.renewals ?? 0;
  const body = html`
    <section class="page-head">
      <p class="eyebrow">Space HTTP API</p>
      <h1>Calls as you, with a token you never see</h1>
      <p class="lead">Each visit calls Space with your access token. The token lives on the server; when it is about to expire,
        the next request renews it with the refresh token before your code runs.</p>
    </section>

    <section class="grid grid-3">
      <article class="card stat" id="token-lifetime">
        <h2>Access token expires in</h2>
        <p class="stat-value"><span data-expires-at="${token.expiresAt}" id="expires-in">${seconds(left)}</span></p>
        <progress max="${Math.round(lifetime / 1000)}" value="${Math.max(0, Math.round(left / 1000))}" data-expires-at="${token.expiresAt}" aria-label="Remaining lifetime"></progress>
        <p class="meta">At ${clock(token.expiresAt)}. Renewed on the first request once less than ${seconds(input.renewWithin)} remain.</p>
      </article>
      <article class="card stat" id="renewals">
        <h2>Renewals in this session</h2>
        <p class="stat-value" id="renewal-count">${renewals}</p>
        <p class="meta">${renewals === 0 ? `None yet: reload once less than ${seconds(input.renewWithin)} remain.` : html`Last at ${clock(watch?.lastRenewalAt)}.`}</p>
      </article>
      <article class="card stat">
        <h2>Renewals by this server</h2>
        <p class="stat-value">${input.process.renewed}</p>
        <p class="meta">All users, since start${input.process.adopted ? html`, plus ${input.process.adopted} taken over from another instance` : ''}${input.process.failed ? html`; ${input.process.failed} failed` : ''}.</p>
      </article>
    </section>

    <section class="card token-facts">
      <dl class="facts facts-row">
        <div><dt>Token type</dt><dd>Bearer</dd></div>
        <div><dt>Scope</dt><dd><code>${token.scope ?? '—'}</code></dd></div>
        <div><dt>Refresh token</dt><dd>${token.hasRefreshToken ? 'Held by the server' : 'Held by the server for your account (one per member, shared by your browsers)'}</dd></div>
        <div><dt>Signed in</dt><dd>${clock(watch?.since)}</dd></div>
      </dl>
    </section>

    <section class="calls">
      <div class="section-head">
        <h2>Just now, as you</h2>
        <a class="button button-quiet" href="/space-api">Call Space again</a>
      </div>
      ${input.calls.map(callCard)}
    </section>`;
  return layout(ctx, { title: 'Space API', nav: 'space-api', body, bodyClass: 'page-space-api' });
}
