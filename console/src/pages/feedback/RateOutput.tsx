/**
 * Rate one output (a run, a node of a run, a tool invocation, an assistant message) with the tenant's
 * feedback keys: 👍/👎 for boolean keys, a score for numeric ones, a choice or a text otherwise. Shows
 * the ratings the output already has. Renders nothing for a caller without `data:write` besides them.
 * Small and free of the chart code, so other pages (tools, runs, assistant) can embed it.
 */
import { useState } from 'react';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, ErrorBanner, useFieldErrors } from '../../ui';
import { useLoad } from '../common/use-load';

export type FeedbackTarget = Schemas['FeedbackTarget'];
type Key = Schemas['FeedbackKey'];

export function RateOutput({ target, title = 'Rate this output' }: { target: FeedbackTarget; title?: string }) {
  const client = useClient();
  const { can } = useRole();
  const keys = useLoad(() => client.call(client.api.GET('/v1/feedback-keys', { params: { query: { limit: 100 } } })), [client]);
  const ratings = useLoad(
    () =>
      client.call(
        client.api.GET('/v1/feedback', {
          params: {
            query: { targetType: target.type, targetId: target.id, ...(target.nodeId ? { nodeId: target.nodeId } : {}), limit: 100 },
          },
        }),
      ),
    [client, target.type, target.id, target.nodeId],
  );
  const [keyName, setKeyName] = useState<string>('');
  const list = keys.data?.data ?? [];
  const key = list.find((k) => k.key === keyName) ?? list.find((k) => k.type === 'boolean') ?? list[0];
  const writer = can('data:write');

  return (
    <section className="rate" aria-label={title}>
      <h3>{title}</h3>
      {ratings.data && ratings.data.data.length > 0 ? (
        <ul className="plain ratings" aria-label="Ratings of this output">
          {ratings.data.data.map((f) => (
            <li key={f.id}>
              <code>{f.key}</code>:{' '}
              {show(
                f,
                list.find((k) => k.key === f.key),
              )}
              {f.comment ? <span className="muted"> — {f.comment}</span> : null}
            </li>
          ))}
        </ul>
      ) : ratings.data ? (
        <p className="muted">Not rated yet.</p>
      ) : null}
      {!writer ? null : keys.data && list.length === 0 ? (
        <p className="muted">No feedback keys yet: an admin defines them on the Feedback page.</p>
      ) : key ? (
        <>
          {list.length > 1 ? (
            <label className="inline">
              Key{' '}
              <select value={key.key} onChange={(e) => setKeyName(e.currentTarget.value)} aria-label="Feedback key">
                {list.map((k) => (
                  <option key={k.key} value={k.key}>
                    {k.key}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <RateWith key={key.key} fbKey={key} target={target} onRated={() => void ratings.reload()} />
        </>
      ) : null}
    </section>
  );
}

function show(f: Schemas['Feedback'], key: Key | undefined): string {
  if (f.value !== null) return f.value;
  if (f.score === null) return '—';
  if (key?.type === 'boolean') return f.score === 1 ? 'good' : 'bad';
  return String(f.score);
}

function RateWith({ fbKey, target, onRated }: { fbKey: Key; target: FeedbackTarget; onRated: () => void }) {
  const client = useClient();
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [text, setText] = useState('');
  const [comment, setComment] = useState('');
  const scoreErrors = useFieldErrors('score', problem);
  const valueErrors = useFieldErrors('value', problem);

  async function rate(body: { score?: number | boolean; value?: string }) {
    setBusy(true);
    setProblem(null);
    try {
      await client.call(
        client.api.POST('/v1/feedback', {
          body: { target, key: fbKey.key, ...body, ...(comment.trim() ? { comment: comment.trim() } : {}) },
        }),
      );
      onRated();
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  }

  const label = fbKey.description ?? fbKey.key;
  return (
    <div className="rate-controls">
      <ErrorBanner
        problem={problem?.errors.length && problem.errors.every((e) => e.path === 'score' || e.path === 'value') ? null : problem}
      />
      {fbKey.type === 'boolean' ? (
        <fieldset className="row plain-fieldset">
          <legend className="sr-only">{label}</legend>
          <Button busy={busy} onClick={() => void rate({ score: true })} aria-label={`${fbKey.key}: good`}>
            <Thumb up /> Good
          </Button>
          <Button busy={busy} onClick={() => void rate({ score: false })} aria-label={`${fbKey.key}: bad`}>
            <Thumb up={false} /> Bad
          </Button>
        </fieldset>
      ) : fbKey.type === 'numeric' ? (
        <fieldset className="row plain-fieldset">
          <legend className="sr-only">{label}</legend>
          {range(fbKey.min ?? 0, fbKey.max ?? 5).map((n) => (
            <Button key={n} busy={busy} onClick={() => void rate({ score: n })} aria-label={`${fbKey.key}: ${n}`}>
              {n}
            </Button>
          ))}
        </fieldset>
      ) : fbKey.type === 'categorical' ? (
        <fieldset className="row plain-fieldset">
          <legend className="sr-only">{label}</legend>
          {(fbKey.categories ?? []).map((c) => (
            <Button key={c} busy={busy} onClick={() => void rate({ value: c })}>
              {c}
            </Button>
          ))}
        </fieldset>
      ) : (
        <div className="row">
          <input aria-label={label} value={text} onChange={(e) => setText(e.currentTarget.value)} />
          <Button busy={busy} onClick={() => void rate({ value: text })}>
            Rate
          </Button>
        </div>
      )}
      <input
        className="comment"
        aria-label="Comment (optional)"
        placeholder="Comment (optional)"
        value={comment}
        onChange={(e) => setComment(e.currentTarget.value)}
      />
      {[...scoreErrors, ...valueErrors].length ? (
        <small className="field-error" role="alert">
          {[...scoreErrors, ...valueErrors].join(' ')}
        </small>
      ) : null}
    </div>
  );
}

/** A thumb up or down (Material Icons' thumb_up path, Apache-2.0), drawn in the text colour: no emoji font needed. */
export function Thumb({ up }: { up: boolean }) {
  return (
    <svg
      className="thumb"
      viewBox="0 0 24 24"
      width="16"
      height="16"
      aria-hidden="true"
      style={up ? undefined : { transform: 'rotate(180deg)' }}
    >
      <path
        fill="currentColor"
        d="M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z"
      />
    </svg>
  );
}

/** Whole scores of a numeric key's range, when it is short enough for buttons (else min, middle, max). */
function range(min: number, max: number): number[] {
  if (Number.isInteger(min) && Number.isInteger(max) && max - min <= 10) {
    return Array.from({ length: max - min + 1 }, (_, i) => min + i);
  }
  return [min, (min + max) / 2, max];
}
