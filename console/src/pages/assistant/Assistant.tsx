/**
 * /assistant and /assistant/:chatId: the tenant's assistant through the AI SDK's useChat against
 * POST /v1/chat. Tool calls are shown with their input and result; a call that needs approval gets
 * Approve/Deny; askUser questions get their options (and a free answer). docs/assistant.md.
 */
import { useChat } from '@ai-sdk/react';
import { lastAssistantMessageIsCompleteWithApprovalResponses, lastAssistantMessageIsCompleteWithToolCalls, type UIMessage } from 'ai';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Link, Navigate, useParams } from 'react-router';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient } from '../../auth';
import { Button, ErrorBanner, Loading } from '../../ui';
import { chatTransport } from './chat-transport';
import { MessagePart } from './MessagePart';
import './assistant.css';

const newChatId = () => `chat_${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;

export default function Assistant() {
  const { chatId } = useParams();
  const client = useClient();
  const [chats, setChats] = useState<Schemas['ChatSummary'][] | null>(null);
  const [initial, setInitial] = useState<{ chatId: string; messages: UIMessage[] } | null>(null);
  const [error, setError] = useState<ApiProblem | null>(null);

  const loadChats = useCallback(() => {
    client.call(client.api.GET('/v1/chats', { params: { query: { limit: 50 } } })).then(
      (p) => setChats(p.data),
      () => setChats((prev) => prev ?? []),
    );
  }, [client]);
  useEffect(loadChats, [loadChats]);

  useEffect(() => {
    if (!chatId) return;
    let gone = false;
    setInitial(null);
    setError(null);
    client.call(client.api.GET('/v1/chats/{chatId}', { params: { path: { chatId } } })).then(
      (c) => !gone && setInitial({ chatId, messages: c.messages as unknown as UIMessage[] }),
      (err) => {
        if (gone) return;
        const p = toProblem(err);
        // A chat exists once its first message is sent.
        if (p.status === 404) setInitial({ chatId, messages: [] });
        else setError(p);
      },
    );
    return () => {
      gone = true;
    };
  }, [client, chatId]);

  if (!chatId) return <Navigate to={`/assistant/${newChatId()}`} replace />;

  return (
    <section className="assistant">
      <nav className="chat-list" aria-label="Chats">
        <Link className="btn btn-primary" to={`/assistant/${newChatId()}`}>
          New chat
        </Link>
        {chats === null ? <Loading label="Loading" /> : null}
        <ul>
          {chats?.map((c) => (
            <li key={c.id}>
              <Link to={`/assistant/${encodeURIComponent(c.id)}`} aria-current={c.id === chatId ? 'page' : undefined}>
                {c.title || c.id}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      {error ? (
        <ErrorBanner problem={error} />
      ) : initial && initial.chatId === chatId ? (
        <ChatPane key={chatId} chatId={chatId} initialMessages={initial.messages} onTurnEnd={loadChats} />
      ) : (
        <Loading label="Loading chat" />
      )}
    </section>
  );
}

/** A delegate's approval answered: the delegating call has no result yet, so the SDK's helper does not send (docs/assistant.md). */
function answeredDelegatedApproval({ messages }: { messages: UIMessage[] }): boolean {
  const last = messages[messages.length - 1];
  if (last?.role !== 'assistant') return false;
  const tools = last.parts.filter((p) => p.type.startsWith('tool-')) as Array<{
    state?: string;
    toolCallId?: string;
    type: string;
    input?: unknown;
  }>;
  const pending = tools.some((p) => p.state === 'approval-requested' || (p.type === 'tool-askUser' && p.state === 'input-available'));
  return !pending && tools.some((p) => p.state === 'approval-responded' && p.toolCallId?.includes('>'));
}

function ChatPane({ chatId, initialMessages, onTurnEnd }: { chatId: string; initialMessages: UIMessage[]; onTurnEnd: () => void }) {
  const client = useClient();
  const transport = useMemo(() => chatTransport(client), [client]);
  const { messages, sendMessage, addToolApprovalResponse, addToolOutput, status, stop, error, clearError } = useChat({
    id: chatId,
    messages: initialMessages,
    // A chat with history may have a turn still streaming (a reload mid-answer): follow it.
    resume: initialMessages.length > 0,
    transport,
    // A first message creates the chat: the list picks it up (and its title) when the answer ends.
    onFinish: () => onTurnEnd(),
    sendAutomaticallyWhen: (o) =>
      lastAssistantMessageIsCompleteWithApprovalResponses(o) ||
      lastAssistantMessageIsCompleteWithToolCalls(o) ||
      answeredDelegatedApproval(o),
  });
  const [text, setText] = useState('');
  const end = useRef<HTMLDivElement>(null);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when the messages change
  useEffect(() => {
    end.current?.scrollIntoView?.({ block: 'end' });
  }, [messages]);
  const busy = status === 'submitted' || status === 'streaming';

  async function stopTurn() {
    try {
      await client.call(client.api.POST('/v1/chat/{chatId}/stop', { params: { path: { chatId } } }));
    } finally {
      await stop();
    }
  }

  return (
    <div className="chat-pane">
      <div className="chat-messages" aria-live="polite" data-testid="chat-messages">
        {messages.length === 0 ? (
          <div className="chat-empty">
            <p>Ask the assistant to manage your tasks, for example:</p>
            <ul>
              <li>buy milk tomorrow at 5pm</li>
              <li>what is due this week?</li>
              <li>complete buy milk</li>
            </ul>
          </div>
        ) : null}
        {messages.map((m) => (
          <article key={m.id} className={`msg msg--${m.role}`} data-role={m.role} aria-label={m.role === 'user' ? 'You' : 'Assistant'}>
            {m.parts.map((part, i) => (
              <MessagePart
                // biome-ignore lint/suspicious/noArrayIndexKey: parts have no id; a message only appends to them
                key={i}
                part={part}
                onApprove={(id, approved) =>
                  addToolApprovalResponse({ id, approved, ...(approved ? {} : { reason: 'Denied in the console' }) })
                }
                onAnswer={(toolCallId, output) => addToolOutput({ tool: 'askUser' as never, toolCallId, output })}
              />
            ))}
            <MessageMeta metadata={m.metadata} />
          </article>
        ))}
        <div ref={end} />
      </div>
      {error ? (
        <div role="alert" className="chat-error">
          {error.message}{' '}
          <button type="button" className="link" onClick={clearError}>
            dismiss
          </button>
        </div>
      ) : null}
      <form
        className="chat-form"
        onSubmit={(e) => {
          e.preventDefault();
          const t = text.trim();
          if (!t || busy) return;
          void sendMessage({ text: t });
          setText('');
        }}
      >
        <label className="visually-hidden" htmlFor="chat-input">
          Message
        </label>
        <input
          id="chat-input"
          data-testid="chat-input"
          value={text}
          onChange={(e) => setText(e.target.value)}
          placeholder="Message the assistant…"
          autoComplete="off"
          maxLength={20000}
        />
        {busy ? (
          <Button onClick={() => void stopTurn()}>Stop</Button>
        ) : (
          <Button type="submit" variant="primary" disabled={!text.trim()}>
            Send
          </Button>
        )}
      </form>
    </div>
  );
}

function MessageMeta({ metadata }: { metadata: unknown }) {
  const m = (metadata ?? {}) as {
    usage?: { inputTokens?: number; outputTokens?: number; costUsd?: number };
    model?: string;
    status?: string;
    runId?: string;
  };
  if (!m.model && !m.runId) return null;
  return (
    <footer className="msg-meta">
      {m.model ? `${m.model} · ` : ''}
      {m.usage ? `${(m.usage.inputTokens ?? 0) + (m.usage.outputTokens ?? 0)} tokens · ` : ''}
      {m.status && m.status !== 'completed' ? `${m.status} · ` : ''}
      {m.runId ? <Link to={`/runs/${encodeURIComponent(m.runId)}`}>run</Link> : null}
    </footer>
  );
}
