/** Feedback rows as the hub stores them, and their model form (read by the feedback ops and the sync snapshot). */
import type { Feedback, FeedbackKey, Rater, TargetType } from '../../src/feedback/model';

type Sql = SqlStorage;

export function readKey(sql: Sql, key: string): FeedbackKey | null {
  const row = sql.exec<{ data: string }>(`SELECT data FROM feedback_keys WHERE key = ?`, key).toArray()[0];
  return row ? (JSON.parse(row.data) as FeedbackKey) : null;
}

export interface FeedbackRow {
  id: string;
  target_type: TargetType;
  target_id: string;
  target_node: string;
  key: string;
  rater: string;
  source: Feedback['source'];
  score: number | null;
  value: string | null;
  comment: string | null;
  correction: string | null;
  run_id: string | null;
  flow_id: string | null;
  flow_version: number | null;
  node_id: string | null;
  provider: string | null;
  model: string | null;
  agent_id: string | null;
  tool_id: string | null;
  created_at: string;
  updated_at: string;
  [k: string]: SqlStorageValue;
}

export const raterOf = (r: Rater) => `${r.type}:${r.id}`;

function toRater(s: string): Rater {
  const i = s.indexOf(':');
  return { type: s.slice(0, i) as Rater['type'], id: s.slice(i + 1) };
}

export function toFeedback(r: FeedbackRow): Feedback {
  return {
    id: r.id,
    target: {
      type: r.target_type,
      id: r.target_id,
      ...(r.target_node ? (r.target_type === 'chat_message' ? { chatId: r.target_node } : { nodeId: r.target_node }) : {}),
    },
    key: r.key,
    score: r.score,
    value: r.value,
    comment: r.comment,
    correction: r.correction === null ? null : JSON.parse(r.correction),
    source: r.source,
    actor: toRater(r.rater),
    attributes: {
      runId: r.run_id,
      flowId: r.flow_id,
      flowVersion: r.flow_version,
      nodeId: r.node_id,
      provider: r.provider,
      model: r.model,
      agentId: r.agent_id,
      toolId: r.tool_id,
    },
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export function readFeedback(sql: Sql, id: string): Feedback | null {
  const r = sql.exec<FeedbackRow>(`SELECT * FROM feedback WHERE id = ?`, id).toArray()[0];
  return r ? toFeedback(r) : null;
}
