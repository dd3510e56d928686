/**
 * The task board: columns by status (drag a card to Done to complete it, back to To do to reopen
 * it; or with the keyboard), a list view with filters, quick add in plain words, and an editor for
 * due, reminders and recurrence. Live over the sync WebSocket (./sync.ts): changes from other
 * windows, members and the API appear without a reload.
 */
import { type DragEvent, type KeyboardEvent, memo, useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useSearchParams } from 'react-router';
import { type ApiProblem, type Client, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, Empty, ErrorBanner, Loading } from '../../ui';
import { useFilterParams } from '../common/use-filter-params';
import { BROWSER_TZ, compareTasks, dueText, isOverdue, reminderText } from './format';
import { rruleToText } from './rrule-text';
import { type SyncStatus, type Task, TaskSync } from './sync';
import { TaskEditor } from './TaskEditor';

type Status = Task['status'];
const COLUMNS: Array<{ status: Status; title: string }> = [
  { status: 'open', title: 'To do' },
  { status: 'done', title: 'Done' },
];
const DRAG_TYPE = 'application/x-edgecrew-task';

/** The live task set for this page (snapshot + sync socket), stopped when the page closes. */
function useTaskSync(client: Client) {
  const sync = useMemo(() => new TaskSync(client), [client]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  useEffect(() => {
    sync.start().catch((err: unknown) => setProblem(toProblem(err)));
    return () => sync.stop();
  }, [sync]);
  const state = useSyncExternalStore(sync.subscribe, sync.getSnapshot);
  return { sync, ...state, loaded: sync.loaded, problem, setProblem };
}

const STATUS_TEXT: Record<SyncStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  resyncing: 'Catching up…',
  stopped: 'Offline',
};

export default function Board() {
  const client = useClient();
  const { can } = useRole();
  const writable = can('data:write');
  const { sync, tasks, status, loaded, problem, setProblem } = useTaskSync(client);
  const [params, setParams] = useSearchParams();
  const view = params.get('view') === 'list' ? 'list' : 'board';
  const [editing, setEditing] = useState<string | null>(null);
  const [announcement, setAnnouncement] = useState('');
  const editingTask = editing ? tasks.find((t) => t.id === editing) : undefined;

  /** Completes or reopens a task; returns the task the API answered. */
  const move = useCallback(
    async (task: Task, to: Status) => {
      if (task.status === to && to === 'open') return;
      setProblem(null);
      try {
        const path = { taskId: task.id };
        const updated =
          to === 'done'
            ? await client.call(client.api.POST('/v1/tasks/{taskId}/complete', { params: { path } }))
            : await client.call(client.api.POST('/v1/tasks/{taskId}/reopen', { params: { path } }));
        sync.upsert(updated);
        setAnnouncement(
          to === 'done' && updated.status === 'open'
            ? `Completed this occurrence of “${task.title}”; next due ${dueText(updated) ?? 'later'}.`
            : `Moved “${task.title}” to ${to === 'done' ? 'Done' : 'To do'}.`,
        );
      } catch (err) {
        setProblem(toProblem(err));
      }
    },
    [client, sync, setProblem],
  );

  return (
    <section className="page board-page">
      <header className="page-head">
        <h1>Tasks</h1>
        <output className={`sync-status sync-${status}`} data-testid="sync-status">
          {STATUS_TEXT[status]}
        </output>
        <fieldset className="view-toggle">
          <legend className="sr-only">View</legend>
          <Button aria-pressed={view === 'board'} onClick={() => setParams({}, { replace: true })}>
            Board
          </Button>
          <Button aria-pressed={view === 'list'} onClick={() => setParams({ view: 'list' }, { replace: true })}>
            List
          </Button>
        </fieldset>
      </header>
      {writable ? <QuickAdd client={client} sync={sync} onOpen={setEditing} /> : null}
      <ErrorBanner problem={problem} onDismiss={() => setProblem(null)} />
      <p className="sr-only" aria-live="polite" data-testid="announcement">
        {announcement}
      </p>
      {!loaded ? (
        problem ? null : (
          <Loading label="Loading tasks" />
        )
      ) : view === 'board' ? (
        <BoardView tasks={tasks} writable={writable} onMove={move} onOpen={setEditing} />
      ) : (
        <ListView tasks={tasks} writable={writable} onMove={move} onOpen={setEditing} />
      )}
      {editingTask ? <TaskEditor key={editingTask.id} task={editingTask} sync={sync} onClose={() => setEditing(null)} /> : null}
    </section>
  );
}

// ---- quick add ------------------------------------------------------------------------------------

type QuickAddResult = Schemas['QuickAddResult'];

function QuickAdd({ client, sync, onOpen }: { client: Client; sync: TaskSync; onOpen: (id: string) => void }) {
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [result, setResult] = useState<QuickAddResult | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const apply = (r: QuickAddResult) => {
    if (r.task) {
      if (r.intent === 'delete') sync.remove(r.task.id);
      else sync.upsert(r.task);
    }
  };

  const submit = async () => {
    if (!text.trim()) return;
    setBusy(true);
    setProblem(null);
    setResult(null);
    try {
      const r = await client.call(client.api.POST('/v1/tasks/quick-add', { body: { text, timezone: BROWSER_TZ } }));
      apply(r);
      setResult(r);
      if (!r.confirmation) setText('');
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
      input.current?.focus();
    }
  };

  const confirm = async (taskId: string) => {
    if (!result?.confirmation) return;
    setBusy(true);
    setProblem(null);
    try {
      const r = await client.call(client.api.POST('/v1/tasks/quick-add/confirm', { body: { token: result.confirmation.token, taskId } }));
      apply(r);
      setResult(r);
      setText('');
    } catch (err) {
      setProblem(toProblem(err));
      if (toProblem(err).status === 412) setResult(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="quick-add">
      <form
        className="inline-form"
        aria-label="Add a task in plain words"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div className="field">
          <label htmlFor="quick-add">Quick add</label>
          <input
            id="quick-add"
            ref={input}
            value={text}
            onChange={(e) => setText(e.target.value)}
            placeholder="pay rent every 1st at 9am remind me 1 day before #home p1"
            autoComplete="off"
            aria-describedby="quick-add-hint"
          />
          <small id="quick-add-hint" className="hint">
            Plain words: dates, “every …”, “remind me …”, #labels, p1–p4; or “done with …”, “move … to friday”, “what’s due today”.
          </small>
        </div>
        <Button type="submit" variant="primary" busy={busy}>
          Add
        </Button>
      </form>
      <ErrorBanner problem={problem} onDismiss={() => setProblem(null)} />
      {result ? (
        <QuickAddOutcome result={result} busy={busy} onConfirm={confirm} onOpen={onOpen} onDismiss={() => setResult(null)} />
      ) : null}
    </div>
  );
}

const VERB: Record<string, string> = { complete: 'Complete', delete: 'Delete', reschedule: 'Reschedule', remind: 'Remind' };

function QuickAddOutcome({
  result,
  busy,
  onConfirm,
  onOpen,
  onDismiss,
}: {
  result: QuickAddResult;
  busy: boolean;
  onConfirm: (taskId: string) => void;
  onOpen: (id: string) => void;
  onDismiss: () => void;
}) {
  let body: React.ReactNode;
  if (result.confirmation && result.candidates) {
    body = (
      <>
        <p>Which task did you mean? Nothing changes until you choose.</p>
        <ul className="candidates">
          {result.candidates.map((c) => (
            <li key={c.id}>
              <Button disabled={busy} onClick={() => onConfirm(c.id)}>
                {VERB[result.intent] ?? 'Choose'} “{c.title}”
              </Button>
              {dueText(c) ? <span className="hint"> due {dueText(c)}</span> : null}
            </li>
          ))}
        </ul>
      </>
    );
  } else if (result.intent === 'list') {
    const found = result.tasks ?? [];
    body = (
      <>
        <p>
          {found.length} matching task{found.length === 1 ? '' : 's'}.
        </p>
        <ul className="candidates">
          {found.map((t) => (
            <li key={t.id}>
              <button type="button" className="link" onClick={() => onOpen(t.id)}>
                {t.title}
              </button>
              {dueText(t) ? <span className="hint"> due {dueText(t)}</span> : null}
            </li>
          ))}
        </ul>
      </>
    );
  } else if (result.task) {
    const t = result.task;
    const what =
      result.intent === 'create' || result.intent === 'remind'
        ? 'Added'
        : result.intent === 'complete'
          ? 'Completed'
          : result.intent === 'delete'
            ? 'Deleted'
            : 'Rescheduled';
    body = (
      <p>
        {what} <strong>“{t.title}”</strong>
        {dueText(t) ? <> · due {dueText(t)}</> : null}
        {t.recurrence ? <> · {rruleToText(t.recurrence, t.recurrenceFrom)}</> : null}
        {t.reminders.length ? <> · reminder {t.reminders.map(reminderText).join(', ')}</> : null}
        {t.labels.length ? <> · {t.labels.map((l) => `#${l}`).join(' ')}</> : null}
      </p>
    );
  } else {
    body = <p>Nothing to do.</p>;
  }
  return (
    <div className="quick-add-outcome" role="status" data-testid="quick-add-outcome">
      {body}
      <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss">
        ×
      </button>
    </div>
  );
}

// ---- board view -----------------------------------------------------------------------------------

interface ViewProps {
  tasks: Task[];
  writable: boolean;
  onMove: (task: Task, to: Status) => Promise<void>;
  onOpen: (id: string) => void;
}

function focusCard(id: string) {
  requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-task-id="${CSS.escape(id)}"]`)?.focus());
}

function BoardView({ tasks, writable, onMove, onOpen }: ViewProps) {
  const columns = useMemo(
    () => COLUMNS.map((c) => ({ ...c, tasks: tasks.filter((t) => t.status === c.status).sort(compareTasks) })),
    [tasks],
  );
  const [over, setOver] = useState<Status | null>(null);
  const [dragging, setDragging] = useState<string | null>(null);

  // Cards are memoised (500 of them re-render only when their task changes), so their handlers
  // read the current columns through a ref instead of closing over one render's.
  const latest = useRef({ columns, onMove, onOpen });
  latest.current = { columns, onMove, onOpen };
  const handlers = useMemo<CardHandlers>(
    () => ({
      onKey: (e, task) => {
        const { columns, onMove, onOpen } = latest.current;
        const col = columns.findIndex((c) => c.status === task.status);
        const column = columns[col];
        if (!column) return;
        const row = column.tasks.findIndex((t) => t.id === task.id);
        let target: Task | undefined;
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          onOpen(task.id);
          return;
        }
        if (e.shiftKey && (e.key === 'ArrowRight' || e.key === 'ArrowLeft')) {
          e.preventDefault();
          const to = columns[col + (e.key === 'ArrowRight' ? 1 : -1)];
          if (to && writable) void onMove(task, to.status).then(() => focusCard(task.id));
          return;
        }
        switch (e.key) {
          case 'ArrowDown':
            target = column.tasks[row + 1];
            break;
          case 'ArrowUp':
            target = column.tasks[row - 1];
            break;
          case 'Home':
            target = column.tasks[0];
            break;
          case 'End':
            target = column.tasks[column.tasks.length - 1];
            break;
          case 'ArrowRight':
          case 'ArrowLeft': {
            const next = columns[col + (e.key === 'ArrowRight' ? 1 : -1)];
            target = next?.tasks[Math.min(row, next.tasks.length - 1)];
            break;
          }
          default:
            return;
        }
        e.preventDefault();
        if (target) focusCard(target.id);
      },
      onOpen: (task) => latest.current.onOpen(task.id),
      onToggle: (task) => void latest.current.onMove(task, task.status === 'open' ? 'done' : 'open'),
      onDragStart: (e, task) => {
        e.dataTransfer.setData(DRAG_TYPE, task.id);
        e.dataTransfer.setData('text/plain', task.title);
        e.dataTransfer.effectAllowed = 'move';
        setDragging(task.id);
      },
      onDragEnd: () => setDragging(null),
    }),
    [writable],
  );

  return (
    <>
      <p className="hint keyboard-hint">
        Keyboard: arrow keys move between cards, Shift+→ / Shift+← moves a card to the next / previous column, Enter opens it.
      </p>
      <div className="columns">
        {columns.map((column) => (
          <section
            key={column.status}
            className={`column${over === column.status ? ' drop-target' : ''}`}
            aria-labelledby={`col-${column.status}`}
            data-column={column.status}
            onDragOver={(e: DragEvent) => {
              if (!writable || !e.dataTransfer.types.includes(DRAG_TYPE)) return;
              e.preventDefault();
              e.dataTransfer.dropEffect = 'move';
              setOver(column.status);
            }}
            onDragLeave={(e: DragEvent) => {
              if (!e.currentTarget.contains(e.relatedTarget as Node | null)) setOver(null);
            }}
            onDrop={(e: DragEvent) => {
              e.preventDefault();
              setOver(null);
              const id = e.dataTransfer.getData(DRAG_TYPE);
              const task = tasks.find((t) => t.id === id);
              if (task && task.status !== column.status) void onMove(task, column.status);
            }}
          >
            <h2 id={`col-${column.status}`}>
              {column.title} <span className="count">{column.tasks.length}</span>
            </h2>
            {column.tasks.length === 0 ? (
              <Empty title={column.status === 'open' ? 'Nothing to do.' : 'Nothing done yet.'}>
                {writable && column.status === 'done' ? 'Drag a card here to complete it.' : null}
              </Empty>
            ) : (
              <ul>
                {column.tasks.map((task) => (
                  <li key={task.id}>
                    <TaskCard task={task} writable={writable} dragging={dragging === task.id} handlers={handlers} />
                  </li>
                ))}
              </ul>
            )}
          </section>
        ))}
      </div>
    </>
  );
}

interface CardHandlers {
  onKey: (e: KeyboardEvent, task: Task) => void;
  onOpen: (task: Task) => void;
  onToggle: (task: Task) => void;
  onDragStart: (e: DragEvent, task: Task) => void;
  onDragEnd: () => void;
}

const TaskCard = memo(function TaskCard({
  task,
  writable,
  dragging,
  handlers,
}: {
  task: Task;
  writable: boolean;
  dragging: boolean;
  handlers: CardHandlers;
}) {
  const due = dueText(task);
  const overdue = isOverdue(task);
  return (
    // biome-ignore lint/a11y/useSemanticElements: a card holds buttons, so it cannot itself be a <button>
    <article
      className={`card p${task.priority}${dragging ? ' dragging' : ''}${task.status === 'done' ? ' done' : ''}`}
      data-task-id={task.id}
      // biome-ignore lint/a11y/noNoninteractiveTabindex: cards are keyboard-navigable (arrow keys, Enter, Shift+arrows)
      tabIndex={0}
      role="group"
      aria-roledescription="task card"
      aria-label={`${task.title}${due ? `, due ${due}` : ''}${task.status === 'done' ? ', done' : ''}`}
      draggable={writable}
      onDragStart={(e) => handlers.onDragStart(e, task)}
      onDragEnd={handlers.onDragEnd}
      onKeyDown={(e) => {
        if (e.target === e.currentTarget) handlers.onKey(e, task);
      }}
      onDoubleClick={() => handlers.onOpen(task)}
    >
      <div className="card-top">
        {writable ? (
          <input
            type="checkbox"
            className="card-check"
            checked={task.status === 'done'}
            onChange={() => handlers.onToggle(task)}
            aria-label={task.status === 'done' ? `Reopen “${task.title}”` : `Complete “${task.title}”`}
            tabIndex={-1}
          />
        ) : null}
        <button type="button" className="card-title link" onClick={() => handlers.onOpen(task)} tabIndex={-1}>
          {task.title}
        </button>
        {task.priority < 4 ? <span className={`prio prio-${task.priority}`}>P{task.priority}</span> : null}
      </div>
      <div className="card-meta">
        {due ? <span className={overdue ? 'overdue' : undefined}>{overdue ? `Overdue · ${due}` : due}</span> : null}
        {task.recurrence ? <span title={task.recurrence}>↻ {rruleToText(task.recurrence, task.recurrenceFrom)}</span> : null}
        {task.reminders.length ? <span>Remind {task.reminders.map(reminderText).join(', ')}</span> : null}
        {task.labels.map((l) => (
          <span key={l} className="label-chip">
            #{l}
          </span>
        ))}
      </div>
    </article>
  );
});

// ---- list view ------------------------------------------------------------------------------------

type DueFilter = '' | 'overdue' | 'today' | 'week' | 'none';

function matchesDue(task: Task, filter: DueFilter, now: Date): boolean {
  if (!filter) return true;
  const due = task.dueAt ? new Date(task.dueAt) : task.dueDate ? new Date(`${task.dueDate}T12:00:00`) : null;
  if (filter === 'none') return due === null;
  if (!due) return false;
  if (filter === 'overdue') return isOverdue(task, now.getTime());
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const end = new Date(start);
  end.setDate(end.getDate() + (filter === 'today' ? 1 : 7));
  return due >= start && due < end;
}

function ListView({ tasks, writable, onMove, onOpen }: ViewProps) {
  const { params, set, reset } = useFilterParams({ replace: true });
  const status = (params.get('status') ?? '') as '' | Status;
  const label = params.get('label') ?? '';
  const q = params.get('q') ?? '';
  const due = (params.get('due') ?? '') as DueFilter;
  const labels = useMemo(() => [...new Set(tasks.flatMap((t) => t.labels))].sort(), [tasks]);
  const shown = useMemo(() => {
    const now = new Date();
    const needle = q.trim().toLowerCase();
    return tasks
      .filter(
        (t) =>
          (!status || t.status === status) &&
          (!label || t.labels.includes(label)) &&
          (!needle || t.title.toLowerCase().includes(needle) || (t.notes ?? '').toLowerCase().includes(needle)) &&
          matchesDue(t, due, now),
      )
      .sort(compareTasks);
  }, [tasks, status, label, q, due]);

  return (
    <>
      <form className="filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="f-q">Search</label>
          <input id="f-q" type="search" value={q} onChange={(e) => set('q', e.target.value)} placeholder="Title or notes" />
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={status} onChange={(e) => set('status', e.target.value)}>
            <option value="">Any</option>
            <option value="open">To do</option>
            <option value="done">Done</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-label">Label</label>
          <select id="f-label" value={label} onChange={(e) => set('label', e.target.value)}>
            <option value="">Any</option>
            {labels.map((l) => (
              <option key={l} value={l}>
                #{l}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-due">Due</label>
          <select id="f-due" value={due} onChange={(e) => set('due', e.target.value)}>
            <option value="">Any time</option>
            <option value="overdue">Overdue</option>
            <option value="today">Today</option>
            <option value="week">Next 7 days</option>
            <option value="none">No date</option>
          </select>
        </div>
        {status || label || q || due ? (
          <Button variant="link" onClick={() => reset({ view: 'list' })}>
            Clear filters
          </Button>
        ) : null}
      </form>
      {shown.length === 0 ? (
        <Empty title={tasks.length === 0 ? 'No tasks yet.' : 'No task matches these filters.'} />
      ) : (
        <table className="task-table">
          <caption className="sr-only">Tasks ({shown.length})</caption>
          <thead>
            <tr>
              <th scope="col">Done</th>
              <th scope="col">Title</th>
              <th scope="col">Due</th>
              <th scope="col">Priority</th>
              <th scope="col">Repeats</th>
              <th scope="col">Labels</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.id} data-task-id={t.id} className={t.status === 'done' ? 'done' : undefined}>
                <td>
                  <input
                    type="checkbox"
                    checked={t.status === 'done'}
                    disabled={!writable}
                    onChange={() => void onMove(t, t.status === 'open' ? 'done' : 'open')}
                    aria-label={t.status === 'done' ? `Reopen “${t.title}”` : `Complete “${t.title}”`}
                  />
                </td>
                <td>
                  <button type="button" className="link" onClick={() => onOpen(t.id)}>
                    {t.title}
                  </button>
                </td>
                <td className={isOverdue(t) ? 'overdue' : undefined}>{dueText(t) ?? '—'}</td>
                <td>P{t.priority}</td>
                <td>{t.recurrence ? rruleToText(t.recurrence, t.recurrenceFrom) : '—'}</td>
                <td>{t.labels.map((l) => `#${l}`).join(' ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
