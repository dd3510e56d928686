/** The one way to address the Durable Objects: a tenant's hub by tenant id, a run by run id, a chat by tenant and chat id. */
import type { ChatThread } from '../../durable-objects/chat-thread/chat-thread';
import type { FlowRun } from '../../durable-objects/flow-run/flow-run';
import type { KnowledgeShard } from '../../durable-objects/knowledge-shard/knowledge-shard';
import type { TenantHub } from '../../durable-objects/tenant-hub/tenant-hub';

export function tenantHubStub(env: Pick<Env, 'TENANT_HUB'>, tenantId: string): DurableObjectStub<TenantHub> {
  return env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId));
}

export function flowRunStub(env: Pick<Env, 'FLOW_RUN'>, runId: string): DurableObjectStub<FlowRun> {
  return env.FLOW_RUN.get(env.FLOW_RUN.idFromName(runId));
}

/** A chat lives under its tenant: another tenant's same chat id is another (empty) object. */
export function chatThreadStub(env: Pick<Env, 'CHAT_THREAD'>, tenantId: string, chatId: string): DurableObjectStub<ChatThread> {
  return env.CHAT_THREAD.get(env.CHAT_THREAD.idFromName(`${tenantId}/${chatId}`));
}

/** Shard `shard` of a knowledge base, under its tenant: another tenant's same ids address another (empty) object. */
export function knowledgeShardStub(
  env: Pick<Env, 'KNOWLEDGE_SHARD'>,
  tenantId: string,
  knowledgeBaseId: string,
  shard: number,
): DurableObjectStub<KnowledgeShard> {
  return env.KNOWLEDGE_SHARD.get(env.KNOWLEDGE_SHARD.idFromName(`${tenantId}/${knowledgeBaseId}/${shard}`));
}
