/** The service context of a sync socket frame: the caller the Worker authenticated at upgrade, as an HTTP request would carry it. */
import { loadConfig } from '../../src/config';
import { getDb } from '../../src/db/client';
import { eventForwarder } from '../../src/events/outbox';
import { type ServiceCtx, serviceCtx } from '../../src/lib/context';
import { newId } from '../../src/lib/ids';
import { tenantHubStub } from '../../src/lib/stubs';
import type { SocketAttachment } from './sync-sockets';

export function socketServiceCtx(env: Env, state: DurableObjectState, tenantId: string, who: SocketAttachment): ServiceCtx {
  const waitUntil = (p: Promise<unknown>) => state.waitUntil(p);
  const hub = (id: string) => tenantHubStub(env, id);
  return serviceCtx(
    {
      requestId: newId('req'),
      ip: null,
      env,
      db: getDb(env.DB),
      config: loadConfig(env),
      now: new Date(),
      waitUntil,
      events: eventForwarder(env, waitUntil),
      sessions: {
        revoke: async (t, actorId) => void (await hub(t).closeSessions(t, actorId)),
        setRole: async (t, actorId, role) => void (await hub(t).setSessionRole(t, actorId, role)),
      },
    },
    {
      tenantId,
      actor: { type: who.actorType ?? 'user', id: who.actorId },
      role: who.role,
      // Sockets opened before credentials were recorded on the attachment share the actor's budget.
      credential: { id: who.credentialId ?? who.actorId, plan: who.plan ?? 'free', expiresAt: who.expiresAt },
    },
  );
}
