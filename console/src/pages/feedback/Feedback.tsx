/**
 * Feedback: rate an output (run, node, tool invocation, assistant message), the stats of a key as charts
 * (mean and positive rate per day/week/provider/model/…, the score distribution), the recent ratings, and
 * (admin) the feedback keys. Loaded lazily with uPlot, so the charts cost nothing on first load.
 */
import '../common/pages.css';
import { useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { foldErrors, SelectField, TextAreaField } from '../common/fields';
import { LoadMore } from '../common/LoadMore';
import { useLoad, usePaged, when } from '../common/use-load';
import { type ChartSeries, StatsChart } from './StatsChart';

type Key = Schemas['FeedbackKey'];
type Stats = Schemas['FeedbackStats'];
type GroupBy = NonNullable<Stats['groupBy']>;

const GROUPS: Array<{ value: GroupBy | ''; label: string }> = [
  { value: 'day', label: 'per day' },
  { value: 'week', label: 'per week' },
  { value: 'provider', label: 'per provider' },
  { value: 'model', label: 'per model' },
  { value: 'flowId', label: 'per flow' },
  { value: 'flowVersion', label: 'per flow version' },
  { value: 'nodeId', label: 'per node' },
  { value: 'agentId', label: 'per agent' },
  { value: '', label: 'all together' },
];

const TARGETS = [
  { value: 'run', label: 'a run' },
  { value: 'node', label: "a node's output in a run" },
  { value: 'tool_invocation', label: 'a tool invocation' },
  { value: 'chat_message', label: 'an assistant message' },
] as const;

export default function Feedback() {
  const client = useClient();
  const { can } = useRole();
  const keys = useLoad(() => client.call(client.api.GET('/v1/feedback-keys', { params: { query: { limit: 100 } } })), [client]);
  const list = keys.data?.data ?? [];
  return (
    <section className="page">
      <h1>Feedback</h1>
      <p className="lede">Ratings of what flows, tools and the assistant produced, and how they trend.</p>
      <ErrorBanner problem={keys.problem} />
      {keys.data === undefined ? (
        keys.problem ? null : (
          <Loading label="Loading feedback keys" />
        )
      ) : list.length === 0 ? (
        <Empty title="No feedback keys yet.">
          <p>{can('tenant:write') ? 'Define one below: what a rating measures.' : 'An admin defines what ratings measure.'}</p>
        </Empty>
      ) : (
        <StatsSection keys={list} />
      )}
      {list.length > 0 && can('data:write') ? <RateForm keys={list} /> : null}
      {list.length > 0 ? <RecentRatings keys={list} /> : null}
      <KeysSection keys={list} onChanged={() => void keys.reload()} />
    </section>
  );
}

function StatsSection({ keys }: { keys: Key[] }) {
  const client = useClient();
  const scored = keys.filter((k) => k.type !== 'text');
  const [keyName, setKeyName] = useState(scored[0]?.key ?? keys[0]!.key);
  const [groupBy, setGroupBy] = useState<GroupBy | ''>('day');
  const stats = useLoad(
    () => client.call(client.api.GET('/v1/feedback/stats', { params: { query: { key: keyName, ...(groupBy ? { groupBy } : {}) } } })),
    [client, keyName, groupBy],
  );
  const key = keys.find((k) => k.key === keyName);
  return (
    <section aria-labelledby="stats-title">
      <h2 id="stats-title">Stats</h2>
      <div className="row">
        <label className="inline">
          Key{' '}
          <select value={keyName} onChange={(e) => setKeyName(e.currentTarget.value)}>
            {keys.map((k) => (
              <option key={k.key} value={k.key}>
                {k.key} ({k.type})
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          Group{' '}
          <select value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as GroupBy | '')}>
            {GROUPS.map((g) => (
              <option key={g.value} value={g.value}>
                {g.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner problem={stats.problem} />
      {stats.data === undefined ? (
        stats.problem ? null : (
          <Loading label="Loading stats" />
        )
      ) : stats.data.total === 0 ? (
        <Empty title={`No ratings for ${keyName} yet.`} />
      ) : key ? (
        <Charts stats={stats.data} fbKey={key} />
      ) : null}
    </section>
  );
}

function Charts({ stats, fbKey }: { stats: Stats; fbKey: Key }) {
  const labels = useMemo(
    () => stats.buckets.map((b) => (b.group === null ? (stats.groupBy ? '(none)' : 'all') : String(b.group))),
    [stats],
  );
  const trend = useMemo<ChartSeries[]>(() => {
    // Counts as bars behind; the mean on top: a line over time, dots across other groups (providers, models…).
    const time = stats.groupBy === 'day' || stats.groupBy === 'week';
    const counts: ChartSeries = { label: 'ratings', values: stats.buckets.map((b) => b.count), color: '#a3a3a3', kind: 'bars' };
    if (fbKey.type !== 'boolean' && fbKey.type !== 'numeric') return [counts];
    const mean: ChartSeries = {
      label: fbKey.type === 'boolean' ? 'share good' : 'mean',
      values: stats.buckets.map((b) => b.mean),
      color: '#3b82f6',
      kind: time ? 'line' : 'points',
    };
    return [{ ...counts, scale: 'y2' }, mean];
  }, [stats, fbKey]);
  const dist = useMemo(() => {
    const totals = new Map<string, number>();
    for (const b of stats.buckets) for (const [k, n] of Object.entries(b.distribution ?? {})) totals.set(k, (totals.get(k) ?? 0) + n);
    const order =
      fbKey.type === 'categorical'
        ? (fbKey.categories ?? [])
        : fbKey.type === 'boolean'
          ? ['true', 'false']
          : [...totals.keys()].sort((a, b) => Number(a) - Number(b));
    const names = order.filter((k) => totals.has(k));
    const shown = fbKey.type === 'boolean' ? names.map((n) => (n === 'true' ? 'good' : 'bad')) : names;
    return {
      labels: shown,
      series: [{ label: 'ratings', values: names.map((n) => totals.get(n) ?? 0), color: '#8b5cf6', kind: 'bars' as const }],
    };
  }, [stats, fbKey]);
  const all = stats.buckets.reduce((n, b) => n + b.count, 0);
  return (
    <div className="charts" data-testid="feedback-charts">
      <p className="muted">
        {all} rating{all === 1 ? '' : 's'}
        {stats.truncated ? ' (truncated: narrow the range)' : ''}
        {stats.buckets.some((b) => b.drift) ? (
          <span className="status status-bad"> drift in {stats.buckets.filter((b) => b.drift).length} buckets</span>
        ) : null}
      </p>
      {fbKey.type !== 'text' ? (
        <div className="grid-2">
          <StatsChart
            title={`${fbKey.key}: ${fbKey.type === 'boolean' ? 'share good' : 'mean'} and count ${groupLabel(stats.groupBy)}`}
            labels={labels}
            series={trend}
          />
          {dist.labels.length > 0 ? <StatsChart title={`${fbKey.key}: distribution`} labels={dist.labels} series={dist.series} /> : null}
        </div>
      ) : (
        <p>Text ratings have no chart: see the ratings below.</p>
      )}
      <table className="table" aria-label={`Stats of ${fbKey.key}`}>
        <thead>
          <tr>
            <th scope="col">Group</th>
            <th scope="col">Ratings</th>
            <th scope="col">Mean</th>
            <th scope="col">Positive rate</th>
            <th scope="col">Median</th>
            {stats.groupBy === 'day' || stats.groupBy === 'week' ? <th scope="col">Change</th> : null}
          </tr>
        </thead>
        <tbody>
          {stats.buckets.map((b, i) => (
            <tr key={labels[i]}>
              <th scope="row">{labels[i]}</th>
              <td>{b.count}</td>
              <td>{num(b.mean)}</td>
              <td>{b.positiveRate === null ? '—' : `${Math.round(b.positiveRate * 100)}%`}</td>
              <td>{num(b.p50)}</td>
              {stats.groupBy === 'day' || stats.groupBy === 'week' ? (
                <td>
                  {b.delta === null || b.delta === undefined ? '—' : `${b.delta > 0 ? '+' : ''}${num(b.delta)}`}
                  {b.drift ? <span className="status status-bad"> drift</span> : null}
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const num = (v: number | null | undefined) => (v === null || v === undefined ? '—' : Number.isInteger(v) ? String(v) : v.toFixed(2));

const groupLabel = (g: GroupBy | null) => GROUPS.find((x) => x.value === (g ?? ''))?.label ?? '';

function RateForm({ keys }: { keys: Key[] }) {
  const client = useClient();
  // A deep link prefills the target: /feedback?rate=node&id=run_…&nodeId=answer (also run, tool_invocation, chat_message with chatId).
  const [params] = useSearchParams();
  const linked = TARGETS.find((t) => t.value === params.get('rate'))?.value;
  const [type, setType] = useState<(typeof TARGETS)[number]['value']>(linked ?? 'run');
  const [keyName, setKeyName] = useState(keys[0]!.key);
  const [done, setDone] = useState<string | null>(null);
  const key = keys.find((k) => k.key === keyName) ?? keys[0]!;
  return (
    <details className="panel" open={linked !== undefined || undefined}>
      <summary>Rate an output</summary>
      {done ? (
        <p role="status" className="status status-ok">
          {done}
        </p>
      ) : null}
      <Form
        aria-label="Rate an output"
        submitLabel="Rate"
        onSubmit={async (form) => {
          setDone(null);
          const s = (n: string) => String(form.get(n) ?? '').trim();
          const target = {
            type,
            id: s('target.id'),
            ...(type === 'node' ? { nodeId: s('target.nodeId') } : {}),
            ...(type === 'chat_message' ? { chatId: s('target.chatId') } : {}),
          };
          const raw = s('score');
          const body: Schemas['FeedbackRequest'] = {
            target,
            key: keyName,
            ...(key.type === 'boolean' ? { score: raw === 'true' } : {}),
            ...(key.type === 'numeric' && raw !== '' ? { score: Number(raw) } : {}),
            ...(key.type === 'categorical' || key.type === 'text' ? { value: s('value') } : {}),
            ...(s('comment') ? { comment: s('comment') } : {}),
          };
          const r = await client.call(client.api.POST('/v1/feedback', { body }));
          setDone(`Rated ${r.target.type} ${r.target.id}: ${r.key} = ${r.value ?? r.score}.`);
        }}
      >
        <SelectField
          label="What"
          name="target.type"
          value={type}
          onChange={(e) => setType(e.currentTarget.value as typeof type)}
          options={[...TARGETS]}
        />
        <Field
          label={type === 'node' || type === 'run' ? 'Run id' : type === 'tool_invocation' ? 'Invocation id' : 'Message id'}
          name="target.id"
          autoComplete="off"
          defaultValue={params.get('id') ?? ''}
        />
        {type === 'node' ? (
          <Field label="Node id" name="target.nodeId" autoComplete="off" defaultValue={params.get('nodeId') ?? ''} />
        ) : null}
        {type === 'chat_message' ? (
          <Field label="Chat id" name="target.chatId" autoComplete="off" defaultValue={params.get('chatId') ?? ''} />
        ) : null}
        <SelectField
          label="Key"
          name="key"
          value={keyName}
          onChange={(e) => setKeyName(e.currentTarget.value)}
          options={keys.map((k) => ({ value: k.key, label: `${k.key} (${k.type})` }))}
        />
        {key.type === 'boolean' ? (
          <SelectField
            label="Rating"
            name="score"
            options={[
              { value: 'true', label: 'good' },
              { value: 'false', label: 'bad' },
            ]}
          />
        ) : key.type === 'numeric' ? (
          <Field label={`Score (${key.min} to ${key.max})`} name="score" type="number" step="any" />
        ) : key.type === 'categorical' ? (
          <SelectField label="Value" name="value" options={(key.categories ?? []).map((c) => ({ value: c, label: c }))} />
        ) : (
          <TextAreaField label="Text" name="value" rows={3} />
        )}
        <Field label="Comment (optional)" name="comment" />
      </Form>
    </details>
  );
}

function RecentRatings({ keys }: { keys: Key[] }) {
  const client = useClient();
  const { can } = useRole();
  const [keyName, setKeyName] = useState('');
  const ratings = usePaged(
    (cursor) =>
      client.call(
        client.api.GET('/v1/feedback', {
          params: { query: { limit: 25, ...(keyName ? { key: keyName } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [client, keyName],
  );
  return (
    <section aria-labelledby="ratings-title">
      <div className="row between">
        <h2 id="ratings-title">Recent ratings</h2>
        <label className="inline">
          Key{' '}
          <select value={keyName} onChange={(e) => setKeyName(e.currentTarget.value)}>
            <option value="">all</option>
            {keys.map((k) => (
              <option key={k.key} value={k.key}>
                {k.key}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBanner problem={ratings.problem} />
      {ratings.items === undefined ? null : ratings.items.length === 0 ? (
        <Empty title="No ratings yet." />
      ) : (
        <table className="table" aria-label="Ratings">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Target</th>
              <th scope="col">Key</th>
              <th scope="col">Rating</th>
              <th scope="col">Comment</th>
              <th scope="col">Source</th>
              <th scope="col">Model</th>
              {can('data:write') ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {ratings.items.map((f) => (
              <tr key={f.id}>
                <td>{when(f.updatedAt)}</td>
                <td>
                  {f.target.type} <code>{f.target.id}</code>
                  {f.target.nodeId ? (
                    <>
                      {' '}
                      / <code>{f.target.nodeId}</code>
                    </>
                  ) : null}
                </td>
                <td>{f.key}</td>
                <td>{f.value ?? (keys.find((k) => k.key === f.key)?.type === 'boolean' ? (f.score === 1 ? 'good' : 'bad') : f.score)}</td>
                <td>{f.comment ?? ''}</td>
                <td>{f.source}</td>
                <td>{f.attributes.model ? `${f.attributes.provider}/${f.attributes.model}` : '—'}</td>
                {can('data:write') ? (
                  <td>
                    <Button
                      variant="link"
                      aria-label={`Delete rating ${f.id}`}
                      onClick={async () => {
                        await client.call(client.api.DELETE('/v1/feedback/{feedbackId}', { params: { path: { feedbackId: f.id } } }));
                        await ratings.reload();
                      }}
                    >
                      Delete
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={ratings} />
    </section>
  );
}

function KeysSection({ keys, onChanged }: { keys: Key[]; onChanged: () => void }) {
  const client = useClient();
  const { can } = useRole();
  const [type, setType] = useState<Key['type']>('boolean');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  return (
    <section aria-labelledby="keys-title">
      <h2 id="keys-title">Feedback keys</h2>
      <ErrorBanner problem={problem} onDismiss={() => setProblem(null)} />
      {keys.length > 0 ? (
        <table className="table" aria-label="Feedback keys">
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Type</th>
              <th scope="col">Range / categories</th>
              <th scope="col">Better</th>
              <th scope="col">Drift watch</th>
              <th scope="col">Description</th>
              {can('tenant:write') ? (
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              ) : null}
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.key}>
                <td>
                  <code>{k.key}</code>
                </td>
                <td>{k.type}</td>
                <td>{k.type === 'numeric' ? `${k.min} – ${k.max}` : k.type === 'categorical' ? (k.categories ?? []).join(', ') : '—'}</td>
                <td>{k.higherIsBetter ? 'higher' : 'lower'}</td>
                <td>{k.drift ? `${k.drift.window}, margin ${k.drift.margin}, ≥ ${k.drift.minSamples}` : '—'}</td>
                <td>{k.description ?? ''}</td>
                {can('tenant:write') ? (
                  <td>
                    <Button
                      variant="link"
                      aria-label={`Delete key ${k.key}`}
                      onClick={async () => {
                        setProblem(null);
                        try {
                          await client.call(client.api.DELETE('/v1/feedback-keys/{key}', { params: { path: { key: k.key } } }));
                          onChanged();
                        } catch (err) {
                          setProblem(toProblem(err));
                        }
                      }}
                    >
                      Delete
                    </Button>
                  </td>
                ) : null}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {can('tenant:write') ? (
        <details className="panel" open={keys.length === 0}>
          <summary>Define a key</summary>
          <Form
            aria-label="Define a feedback key"
            submitLabel="Create key"
            onSubmit={async (form) => {
              const s = (n: string) => String(form.get(n) ?? '').trim();
              const num = (n: string) => (s(n) === '' ? undefined : Number(s(n)));
              const categories = s('categories')
                .split(',')
                .map((c) => c.trim())
                .filter(Boolean);
              await client
                .call(
                  client.api.POST('/v1/feedback-keys', {
                    body: {
                      key: s('key'),
                      type,
                      ...(type === 'numeric' ? { min: num('min'), max: num('max') } : {}),
                      ...(type === 'categorical' ? { categories } : {}),
                      higherIsBetter: form.get('higherIsBetter') === 'on',
                      ...(s('description') ? { description: s('description') } : {}),
                    },
                  }),
                )
                .catch((err) => foldErrors(err, ['categories']));
              onChanged();
            }}
          >
            <Field label="Key" name="key" placeholder="helpful" autoComplete="off" />
            <SelectField
              label="Type"
              name="type"
              value={type}
              onChange={(e) => setType(e.currentTarget.value as Key['type'])}
              options={[
                { value: 'boolean', label: 'boolean (good / bad)' },
                { value: 'numeric', label: 'numeric (a score in a range)' },
                { value: 'categorical', label: 'categorical (one of a list)' },
                { value: 'text', label: 'text' },
              ]}
            />
            {type === 'numeric' ? (
              <div className="row">
                <Field label="Min" name="min" type="number" step="any" defaultValue={1} />
                <Field label="Max" name="max" type="number" step="any" defaultValue={5} />
              </div>
            ) : null}
            {type === 'categorical' ? <Field label="Categories (comma-separated)" name="categories" /> : null}
            <label className="field-check">
              <input type="checkbox" name="higherIsBetter" defaultChecked /> Higher is better
            </label>
            <Field label="Description" name="description" />
          </Form>
        </details>
      ) : null}
    </section>
  );
}
