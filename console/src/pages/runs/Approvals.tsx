/**
 * What the run waits on a person for: approval nodes (Approve / Deny → signal `{ approved }`), and an
 * agent node's parked tool calls (a call needing approval → `{ toolCallId, approved }`; a question
 * for the client, `askUser` → `{ toolCallId, output }`). docs/flows.md "approval", docs/agents.md.
 */
import { useState } from 'react';
import { Button } from '../../ui';
import type { NodeState, ParkedCall } from './run-state';

export type SignalPayload = { approved: boolean } | { toolCallId: string; approved: boolean } | { toolCallId: string; output: unknown };

export function Approvals(props: {
  nodes: Record<string, NodeState>;
  writer: boolean;
  busy: boolean;
  onSignal: (node: string, payload: SignalPayload) => void;
}) {
  const { nodes, writer, busy, onSignal } = props;
  const waiting = Object.entries(nodes).filter(([, n]) => n.status === 'waiting' && (n.awaitingSignal || n.parked.length > 0));
  if (waiting.length === 0) return null;
  return (
    <section className="run-approvals" aria-label="Waiting for you">
      {waiting.map(([id, n]) =>
        n.awaitingSignal ? (
          <div key={id} className="run-approval">
            <span>
              <strong>{id}</strong> waits for approval
            </span>
            {writer ? (
              <>
                <Button variant="primary" data-testid={`approve-${id}`} onClick={() => onSignal(id, { approved: true })} disabled={busy}>
                  Approve
                </Button>
                <Button data-testid={`deny-${id}`} onClick={() => onSignal(id, { approved: false })} disabled={busy}>
                  Deny
                </Button>
              </>
            ) : null}
          </div>
        ) : (
          n.parked.map((c) => <ParkedCallRow key={c.toolCallId} node={id} call={c} writer={writer} busy={busy} onSignal={onSignal} />)
        ),
      )}
    </section>
  );
}

function ParkedCallRow(props: {
  node: string;
  call: ParkedCall;
  writer: boolean;
  busy: boolean;
  onSignal: (node: string, payload: SignalPayload) => void;
}) {
  const { node, call, writer, busy, onSignal } = props;
  const [answer, setAnswer] = useState('');
  if (call.kind === 'client') {
    const { question, options = [] } = (call.input ?? {}) as { question?: string; options?: string[] };
    return (
      <div className="run-approval" data-testid={`parked-${call.toolCallId}`}>
        <span>
          <strong>{node}</strong> asks: {question ?? call.toolName}
        </span>
        {writer ? (
          <>
            {options.map((o) => (
              <Button key={o} onClick={() => onSignal(node, { toolCallId: call.toolCallId, output: o })} disabled={busy}>
                {o}
              </Button>
            ))}
            <form
              className="run-approval"
              onSubmit={(e) => {
                e.preventDefault();
                if (answer.trim()) onSignal(node, { toolCallId: call.toolCallId, output: answer.trim() });
              }}
            >
              <input aria-label={`Answer ${node}`} value={answer} onChange={(e) => setAnswer(e.target.value)} placeholder="Your answer" />
              <Button type="submit" disabled={busy || !answer.trim()}>
                Answer
              </Button>
            </form>
          </>
        ) : null}
      </div>
    );
  }
  return (
    <div className="run-approval" data-testid={`parked-${call.toolCallId}`}>
      <span>
        <strong>{node}</strong> wants to call <code>{call.toolName}</code>
        {call.input !== null && call.input !== undefined ? (
          <code className="run-approval__input"> {JSON.stringify(call.input)}</code>
        ) : null}
      </span>
      {writer ? (
        <>
          <Button variant="primary" onClick={() => onSignal(node, { toolCallId: call.toolCallId, approved: true })} disabled={busy}>
            Approve
          </Button>
          <Button onClick={() => onSignal(node, { toolCallId: call.toolCallId, approved: false })} disabled={busy}>
            Deny
          </Button>
        </>
      ) : null}
    </div>
  );
}
