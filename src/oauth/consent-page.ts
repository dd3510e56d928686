/**
 * The consent page's HTML, rendered by the Worker (no console, no script): step 1 signs in with an
 * Edgecrew account, step 2 picks the tenant and the scopes. It shows what the MCP authorization
 * spec asks a consent page to show: the client's name, its verified domain (a Client ID Metadata
 * Document client) or that it registered itself, where the tokens go, a warning for a local app, and
 * the scopes. Everything from the client or the account is escaped.
 */
import type { Role } from '../identity/roles';
import type { ConsentTicket } from './consent-ticket';
import { type McpScope, scopesForRole } from './scopes';
import { AUTHORIZE_PATH } from './server';

export const SCOPE_TEXT: Record<McpScope, string> = {
  'tasks:read': 'Read tasks and knowledge-base documents (find_tasks, search, fetch)',
  'tasks:write': 'Create, complete, reschedule and delete tasks',
  'flows:run': 'List flows, run them, follow runs and answer their approvals',
  'tools:invoke': "Invoke the tenant's tools",
  offline_access: 'Stay connected (refresh tokens) until you revoke access',
};

const esc = (value: string) => value.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${esc(title)}</title></head>
<body><main>
${body}
</main></body></html>`;
}

function clientFacts(client: ConsentTicket['client']): string {
  const origin = client.domain
    ? `<p>Published by <strong>${esc(client.domain)}</strong>.</p>`
    : '<p>This app registered itself: its name is not verified.</p>';
  const loopback = client.loopback
    ? '<p><strong>Access will be sent to an app on your computer.</strong> Continue only if you just started connecting it.</p>'
    : '';
  return `${origin}<p>Access will be sent to <strong>${esc(client.redirectHost)}</strong>.</p>${loopback}`;
}

const errorBlock = (error: string | undefined) => (error ? `<p role="alert"><strong>${esc(error)}</strong></p>` : '');

/** Step 1: who the client is, and an Edgecrew sign-in form. */
export function signInPage(ticket: ConsentTicket, sealed: string, error?: string): string {
  const name = esc(ticket.client.name);
  return layout(
    `Connect ${ticket.client.name} to Edgecrew`,
    `<h1>Connect ${name} to Edgecrew</h1>
${clientFacts(ticket.client)}
${errorBlock(error)}
<form method="post" action="${AUTHORIZE_PATH}">
<input type="hidden" name="ticket" value="${esc(sealed)}">
<p><label>Email <input type="email" name="email" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
<p><button name="step" value="signin">Sign in</button> <button name="step" value="deny" formnovalidate>Cancel</button></p>
</form>`,
  );
}

/** Step 2: the tenant to connect and the scopes to grant (a viewer can only grant read access). */
export function grantPage(ticket: ConsentTicket, sealed: string, error?: string): string {
  const user = ticket.user!;
  const name = esc(ticket.client.name);
  const requested = new Set(ticket.requested);
  const offered = scopesForRole('admin');
  const checked = (s: McpScope) => requested.size === 0 || requested.has(s);
  const tenants = user.tenants
    .map(
      (t, i) =>
        `<p><label><input type="radio" name="tenant" value="${esc(t.id)}"${i === 0 ? ' checked' : ''} required> ${esc(t.name)} (${esc(t.role)})</label></p>`,
    )
    .join('\n');
  const scopes = offered
    .map(
      (s) =>
        `<p><label><input type="checkbox" name="scope" value="${esc(s)}"${checked(s) ? ' checked' : ''}> <code>${esc(s)}</code>: ${esc(SCOPE_TEXT[s])}</label></p>`,
    )
    .join('\n');
  const viewer: Role = 'viewer';
  return layout(
    `Allow ${ticket.client.name} to use Edgecrew?`,
    `<h1>Allow ${name} to use Edgecrew?</h1>
<p>Signed in as <strong>${esc(user.email)}</strong>.</p>
${clientFacts(ticket.client)}
${errorBlock(error)}
<form method="post" action="${AUTHORIZE_PATH}">
<input type="hidden" name="ticket" value="${esc(sealed)}">
<fieldset><legend>Tenant</legend>
${tenants}
</fieldset>
<fieldset><legend>Permissions</legend>
${scopes}
<p>Only what your role in the chosen tenant allows is granted (a ${viewer} gets <code>${scopesForRole(viewer).join(' ')}</code>).</p>
</fieldset>
<p><button name="step" value="approve">Allow</button> <button name="step" value="deny">Deny</button></p>
</form>`,
  );
}

/** A page for a request that cannot go back to the client (unknown client or redirect URI, expired page). */
export function errorPage(message: string): string {
  return layout('Cannot connect to Edgecrew', `<h1>Cannot connect to Edgecrew</h1>\n<p>${esc(message)}</p>`);
}
