// The OAuth rules as pure code: scopes per role, what a consent grants, what an MCP message needs, and the consent ticket.
import { describe, expect, it } from 'vitest';
import { scopesNeeded } from '../../../src/mcp/scopes';
import { TOOLS } from '../../../src/mcp/tools';
import { type ConsentTicket, openTicket, sealTicket } from '../../../src/oauth/consent-ticket';
import { grantedScopes, MCP_SCOPES, missingScopes, scopesForRole } from '../../../src/oauth/scopes';

describe('scopes', () => {
  it('a viewer may be granted reading only; members and admins everything', () => {
    expect(scopesForRole('viewer')).toEqual(['tasks:read', 'offline_access']);
    expect(scopesForRole('member')).toEqual([...MCP_SCOPES]);
    expect(scopesForRole('admin')).toEqual([...MCP_SCOPES]);
  });

  it.each([
    ['viewer', ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke', 'offline_access'], ['tasks:read', 'offline_access']],
    ['viewer', ['tasks:write'], null],
    ['member', ['offline_access'], null],
    ['member', [], null],
    ['member', ['tools:invoke', 'bogus', 'tasks:read'], ['tasks:read', 'tools:invoke']],
    ['admin', ['flows:run', 'offline_access'], ['flows:run', 'offline_access']],
  ] as const)('a %s approving %j is granted %j', (role, approved, granted) => {
    expect(grantedScopes(role, approved)).toEqual(granted);
  });

  it('missing scopes: none for a credential without scopes (API key, access JWT)', () => {
    expect(missingScopes(undefined, ['tasks:write'])).toEqual([]);
    expect(missingScopes(['tasks:read'], ['tasks:read', 'tasks:write'])).toEqual(['tasks:write']);
    expect(missingScopes(['tasks:read', 'tasks:write'], ['tasks:write'])).toEqual([]);
  });

  it('every tool names a scope; a message needs the scopes of the tools it calls', () => {
    expect(TOOLS.filter((t) => !MCP_SCOPES.includes(t.scope))).toEqual([]);
    const call = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });
    expect(scopesNeeded(call('find_tasks'))).toEqual(['tasks:read']);
    expect(scopesNeeded(call('add_tasks'))).toEqual(['tasks:write']);
    expect(scopesNeeded(call('answer_approval'))).toEqual(['flows:run']);
    expect(scopesNeeded(call('tool_resize'))).toEqual(['tools:invoke']);
    expect(scopesNeeded(call('no_such_tool'))).toEqual([]);
    expect(scopesNeeded({ jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { taskId: 'run_x' } })).toEqual(['flows:run']);
    expect(scopesNeeded([call('delete_tasks'), call('search'), { method: 'ping' }])).toEqual(['tasks:read', 'tasks:write']);
    expect(scopesNeeded({ method: 'resources/read', params: { uri: 'edgecrew://tasks/tsk_x' } })).toEqual(['tasks:read']);
    for (const method of ['initialize', 'ping', 'tools/list', 'logging/setLevel', 'prompts/list', 'prompts/get']) {
      expect(scopesNeeded({ method })).toEqual([]);
    }
    expect(scopesNeeded('not json-rpc')).toEqual([]);
  });
});

describe('consent ticket', () => {
  const ticket: ConsentTicket = {
    handle: 'h-1',
    exp: 1_000_000,
    client: { id: 'https://c.example/meta.json', name: 'Ünïcode client', domain: 'c.example', redirectHost: '127.0.0.1', loopback: true },
    requested: ['tasks:read'],
  };

  it('opens what it sealed until it expires', async () => {
    const sealed = await sealTicket('pepper-1', ticket);
    expect(await openTicket('pepper-1', sealed, 999_999)).toEqual(ticket);
    expect(await openTicket('pepper-1', sealed, 1_000_000)).toBeNull();
  });

  it('refuses a changed body, another key, and garbage', async () => {
    const sealed = await sealTicket('pepper-1', ticket);
    const [body, mac] = sealed.split('.');
    const changed = await sealTicket('pepper-1', { ...ticket, user: { id: 'usr_evil', email: 'e@x', tenants: [] } });
    expect(await openTicket('pepper-1', `${changed.split('.')[0]}.${mac}`, 0)).toBeNull();
    expect(await openTicket('pepper-2', sealed, 0)).toBeNull();
    expect(await openTicket('pepper-1', `${body}`, 0)).toBeNull();
    expect(await openTicket('pepper-1', `${body}.${mac}.x`, 0)).toBeNull();
    expect(await openTicket('pepper-1', '', 0)).toBeNull();
  });
});
