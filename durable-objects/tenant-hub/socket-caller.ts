/** The service context of a sync socket frame: the caller the Worker authenticated at upgrade, as an HTTP request would carry it. */
import { type ServiceCtx, serviceCtx } from '../../src/lib/context';
import { requestCtxFor } from '../../src/lib/request-ctx';
import type { SocketAttachment } from './sync-sockets';

export function socketServiceCtx(env: Env, state: DurableObjectState, tenantId: string, who: SocketAttachment): ServiceCtx {
  return serviceCtx(requestCtxFor(env, { waitUntil: (p) => state.waitUntil(p) }), {
    tenantId,
    actor: { type: who.actorType ?? 'user', id: who.actorId },
    role: who.role,
    // Sockets opened before credentials were recorded on the attachment share the actor's budget.
    credential: { id: who.credentialId ?? who.actorId, plan: who.plan ?? 'free', expiresAt: who.expiresAt },
  });
}
