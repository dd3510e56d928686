/** Chat shapes shared by the Worker and the ChatThread object (plain data: they cross RPC). */
import type { AgentSpecInput } from '../agents/contract';
import type { TenantSettings } from '../db/schema';
import type { RunInitiator } from '../flows/run-model';
import type { ResolvedTimezone } from '../tasks/timezone';
import type { StreamVersion, UIMessage } from './ui-message';

export type TurnStatus = 'queued' | 'running' | 'waiting' | 'completed' | 'failed' | 'stopped';
export const ACTIVE_TURN: ReadonlySet<TurnStatus> = new Set(['queued', 'running']);

export type OnBusy = 'queue' | 'reject' | 'interrupt';

/** Everything a turn needs to start its run, resolved by the Worker when the message arrives. */
export interface TurnPlan {
  initiator: RunInitiator;
  /** The tenant's own assistant agent, or the built-in assistant's definition. */
  agent: { agentId: string } | { spec: AgentSpecInput };
  timezone: ResolvedTimezone;
  /** Copied to the run like any run's (http allow-list, active-run limit). */
  settings: TenantSettings;
  plan: 'free' | 'pro';
}

/** The one message a request contributes: a new user message, or the assistant message carrying answers. */
export interface ClientMessage {
  id?: string | undefined;
  role: 'user' | 'assistant' | 'system';
  parts: Array<Record<string, unknown>>;
  metadata?: unknown;
}

export interface SendInput {
  tenantId: string;
  chatId: string;
  trigger: 'submit-message' | 'regenerate-message';
  message: ClientMessage | null;
  /** regenerate-message: the assistant message to answer again (default: the last). */
  messageId?: string | undefined;
  onBusy: OnBusy;
  version: StreamVersion;
  plan: TurnPlan;
  now: string;
}

export interface TurnView {
  id: string;
  status: TurnStatus;
  messageId: string;
  runId: string;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface ChatSummary {
  id: string;
  title: string;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  messageCount: number;
  /** The latest turn, if any (`running` while it streams, `waiting` while it waits for an answer). */
  lastTurn: Pick<TurnView, 'id' | 'status' | 'messageId'> | null;
}

export interface ChatView extends ChatSummary {
  messages: UIMessage[];
}

/** What a ChatThread reports to its tenant's hub (sync change, and an event when a turn ends). */
export interface ChatReport {
  /** Idempotency: the hub records each report once. */
  id: string;
  chatId: string;
  summary: ChatSummary | null;
  event?: { type: 'chat.turn.completed' | 'chat.turn.failed'; data: Record<string, unknown> } | undefined;
  at: string;
}
