/** One part of a chat message: text, or a tool call with its state, input and result, approval buttons or a question. */

import type { UIMessage } from 'ai';
import { useState } from 'react';
import { Button } from '../../ui';

type Part = UIMessage['parts'][number];
type ToolLike = {
  type: string;
  toolName?: string;
  toolCallId: string;
  state: string;
  input?: unknown;
  output?: unknown;
  errorText?: string;
  approval?: { id: string; approved?: boolean; reason?: string };
};

const STATE_LABEL: Record<string, string> = {
  'input-streaming': 'preparing',
  'input-available': 'running',
  'approval-requested': 'needs your approval',
  'approval-responded': 'answered',
  'output-available': 'done',
  'output-error': 'failed',
  'output-denied': 'denied',
};

export function MessagePart(props: {
  part: Part;
  onApprove: (approvalId: string, approved: boolean) => void;
  onAnswer: (toolCallId: string, output: string) => void;
}) {
  const { part, onApprove, onAnswer } = props;
  if (part.type === 'text') return <p className="msg-text">{part.text}</p>;
  if (part.type === 'reasoning') return <p className="msg-reasoning muted">{part.text}</p>;
  if (!part.type.startsWith('tool-') && part.type !== 'dynamic-tool') return null;
  const t = part as unknown as ToolLike;
  const name = t.type === 'dynamic-tool' ? (t.toolName ?? 'tool') : t.type.slice('tool-'.length);
  if (name === 'askUser') return <Question tool={t} onAnswer={onAnswer} />;
  return (
    <div className={`tool-call tool-call--${t.state}`} data-tool={name} data-state={t.state} data-testid={`tool-${name}`}>
      <div className="tool-call__head">
        <span className="tool-call__name">{name}</span>
        <span className="tool-call__state">{STATE_LABEL[t.state] ?? t.state}</span>
      </div>
      <details>
        <summary>Input</summary>
        <pre className="json">{JSON.stringify(t.input ?? null, null, 2)}</pre>
      </details>
      {t.state === 'output-available' ? (
        <details>
          <summary>Result</summary>
          <pre className="json">{JSON.stringify(t.output ?? null, null, 2)}</pre>
        </details>
      ) : null}
      {t.state === 'output-error' ? <p className="chat-error">{t.errorText}</p> : null}
      {t.state === 'approval-requested' && t.approval ? (
        <div className="tool-call__actions">
          <Button variant="primary" onClick={() => onApprove(t.approval!.id, true)}>
            Approve
          </Button>
          <Button onClick={() => onApprove(t.approval!.id, false)}>Deny</Button>
        </div>
      ) : null}
      {t.state === 'approval-responded' && t.approval ? <p className="muted">{t.approval.approved ? 'Approved' : 'Denied'}</p> : null}
    </div>
  );
}

function Question({ tool, onAnswer }: { tool: ToolLike; onAnswer: (toolCallId: string, output: string) => void }) {
  const { question, options = [] } = (tool.input ?? {}) as { question?: string; options?: string[] };
  const [free, setFree] = useState('');
  const open = tool.state === 'input-available';
  return (
    <div className="tool-call tool-call--question" data-tool="askUser" data-state={tool.state} data-testid="tool-askUser">
      <p className="question">{question ?? 'The assistant has a question.'}</p>
      {open ? (
        <>
          <div className="tool-call__actions">
            {options.map((o) => (
              <Button key={o} onClick={() => onAnswer(tool.toolCallId, o)}>
                {o}
              </Button>
            ))}
          </div>
          <form
            className="question__free"
            onSubmit={(e) => {
              e.preventDefault();
              if (free.trim()) onAnswer(tool.toolCallId, free.trim());
            }}
          >
            <input aria-label="Your answer" value={free} onChange={(e) => setFree(e.target.value)} placeholder="Or type an answer" />
            <Button type="submit" disabled={!free.trim()}>
              Answer
            </Button>
          </form>
        </>
      ) : tool.state === 'output-available' ? (
        <p className="muted">You answered: {String(tool.output)}</p>
      ) : null}
    </div>
  );
}
