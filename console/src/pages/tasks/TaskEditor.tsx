/**
 * Edit one task in a modal dialog: title, notes, priority, labels, due (date and optional time, in
 * the browser's zone), reminders, recurrence (RRULE with its words shown live). Saves with
 * PATCH /v1/tasks/{id} and `If-Match` on the version shown; a 412 (someone changed it meanwhile)
 * shows the newer task instead of overwriting it.
 */
import { useEffect, useId, useRef, useState } from 'react';
import { type ApiProblem, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, ErrorBanner, useFieldErrors } from '../../ui';
import { BROWSER_TZ, dueFromInputs, dueInputs, REMINDER_PRESETS, reminderText } from './format';
import { rruleToText } from './rrule-text';
import type { Task, TaskSync } from './sync';

type Reminder = Task['reminders'][number];

const RECURRENCE_PRESETS: Array<[string, string]> = [
  ['', 'Does not repeat'],
  ['FREQ=DAILY', 'Every day'],
  ['FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', 'Every weekday'],
  ['FREQ=WEEKLY', 'Every week'],
  ['FREQ=WEEKLY;INTERVAL=2', 'Every other week'],
  ['FREQ=MONTHLY', 'Every month'],
  ['FREQ=YEARLY', 'Every year'],
];

function FieldErrors({ path, problem }: { path: string; problem: ApiProblem | null }) {
  const errors = useFieldErrors(path, problem);
  return errors.length ? (
    <small className="field-error" role="alert">
      {errors.join(' ')}
    </small>
  ) : null;
}

export function TaskEditor({ task, sync, onClose }: { task: Task; sync: TaskSync; onClose: () => void }) {
  const client = useClient();
  const { can } = useRole();
  const readOnly = !can('data:write');
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [base, setBase] = useState(task);
  const [title, setTitle] = useState(task.title);
  const [notes, setNotes] = useState(task.notes ?? '');
  const [priority, setPriority] = useState(task.priority);
  const [labels, setLabels] = useState(task.labels.join(', '));
  const initialDue = dueInputs(task);
  const [date, setDate] = useState(initialDue.date);
  const [time, setTime] = useState(initialDue.time);
  const [reminders, setReminders] = useState<Reminder[]>(task.reminders);
  const [addReminder, setAddReminder] = useState('PT1H');
  const [recurrence, setRecurrence] = useState(task.recurrence ?? '');
  const [recurrenceFrom, setRecurrenceFrom] = useState(task.recurrenceFrom);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);

  const save = async () => {
    setBusy(true);
    setProblem(null);
    const body = {
      title: title.trim(),
      notes: notes.trim() ? notes : null,
      priority: priority as 1 | 2 | 3 | 4,
      labels: labels
        .split(',')
        .map((l) => l.trim())
        .filter(Boolean),
      ...dueFromInputs(date, time),
      timezone: BROWSER_TZ,
      recurrence: recurrence.trim() ? recurrence.trim() : null,
      recurrenceFrom,
      reminders,
    };
    try {
      const updated = await client.call(
        client.api.PATCH('/v1/tasks/{taskId}', {
          params: { path: { taskId: task.id } },
          headers: { 'if-match': `"v${base.version}"` },
          body,
        }),
      );
      sync.upsert(updated);
      onClose();
    } catch (err) {
      const p = toProblem(err);
      if (p.status === 412) {
        const fresh = await client.call(client.api.GET('/v1/tasks/{taskId}', { params: { path: { taskId: task.id } } })).catch(() => null);
        if (fresh) {
          sync.upsert(fresh);
          setBase(fresh);
        }
        setProblem({ ...p, title: 'Changed meanwhile', detail: 'Someone changed this task while you edited it. Save again to overwrite.' });
      } else {
        setProblem(p);
      }
    } finally {
      setBusy(false);
    }
  };

  const dueSet = Boolean(date);
  return (
    <dialog ref={dialog} className="editor" aria-labelledby={`${id}-h`} onClose={onClose} onCancel={onClose}>
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (!readOnly) void save();
        }}
      >
        <h2 id={`${id}-h`}>{readOnly ? 'Task' : 'Edit task'}</h2>
        <ErrorBanner problem={problem} />
        <fieldset disabled={readOnly} className="editor-grid">
          <div className="field wide">
            <label htmlFor={`${id}-title`}>Title</label>
            <input id={`${id}-title`} value={title} onChange={(e) => setTitle(e.target.value)} required />
            <FieldErrors path="title" problem={problem} />
          </div>
          <div className="field wide">
            <label htmlFor={`${id}-notes`}>Notes</label>
            <textarea id={`${id}-notes`} rows={3} value={notes} onChange={(e) => setNotes(e.target.value)} />
            <FieldErrors path="notes" problem={problem} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-prio`}>Priority</label>
            <select id={`${id}-prio`} value={priority} onChange={(e) => setPriority(Number(e.target.value) as 1 | 2 | 3 | 4)}>
              <option value={1}>P1 (most urgent)</option>
              <option value={2}>P2</option>
              <option value={3}>P3</option>
              <option value={4}>P4 (normal)</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor={`${id}-labels`}>Labels</label>
            <input id={`${id}-labels`} value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="home, work" />
            <FieldErrors path="labels" problem={problem} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-date`}>Due date</label>
            <input id={`${id}-date`} type="date" value={date} onChange={(e) => setDate(e.target.value)} />
            <FieldErrors path="dueDate" problem={problem} />
          </div>
          <div className="field">
            <label htmlFor={`${id}-time`}>Due time</label>
            <input id={`${id}-time`} type="time" value={time} onChange={(e) => setTime(e.target.value)} disabled={!dueSet} />
            <small className="hint">Empty: all day. Times are in {BROWSER_TZ}.</small>
            <FieldErrors path="dueAt" problem={problem} />
          </div>
          <div className="field wide">
            <span className="label" id={`${id}-rem`}>
              Reminders
            </span>
            <ul className="chips" aria-labelledby={`${id}-rem`}>
              {reminders.length === 0 ? <li className="hint">None</li> : null}
              {reminders.map((r, i) => (
                <li key={JSON.stringify(r)} className="chip">
                  {reminderText(r)}
                  <button
                    type="button"
                    className="link"
                    aria-label={`Remove reminder ${reminderText(r)}`}
                    onClick={() => setReminders(reminders.filter((_, j) => j !== i))}
                  >
                    ×
                  </button>
                </li>
              ))}
            </ul>
            <div className="row">
              <label htmlFor={`${id}-addrem`} className="sr-only">
                New reminder
              </label>
              <select id={`${id}-addrem`} value={addReminder} onChange={(e) => setAddReminder(e.target.value)}>
                {REMINDER_PRESETS.map((p) => (
                  <option key={p} value={p}>
                    {reminderText({ before: p })}
                  </option>
                ))}
              </select>
              <Button
                disabled={!dueSet || reminders.length >= 10}
                onClick={() =>
                  setReminders(
                    reminders.some((r) => 'before' in r && r.before === addReminder) ? reminders : [...reminders, { before: addReminder }],
                  )
                }
                title={dueSet ? undefined : 'Set a due date first'}
              >
                Add reminder
              </Button>
            </div>
            <FieldErrors path="reminders" problem={problem} />
          </div>
          <div className="field wide">
            <label htmlFor={`${id}-rrule`}>Repeats (RRULE)</label>
            <div className="row">
              <select
                aria-label="Repeat preset"
                value={RECURRENCE_PRESETS.some(([v]) => v === recurrence) ? recurrence : 'custom'}
                onChange={(e) => e.target.value !== 'custom' && setRecurrence(e.target.value)}
                disabled={!dueSet && !recurrence}
              >
                {RECURRENCE_PRESETS.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
                <option value="custom">Custom…</option>
              </select>
              <input
                id={`${id}-rrule`}
                value={recurrence}
                onChange={(e) => setRecurrence(e.target.value.toUpperCase())}
                placeholder="FREQ=WEEKLY;BYDAY=MO"
                aria-describedby={`${id}-rrule-words`}
              />
              <select
                aria-label="Count from"
                value={recurrenceFrom}
                onChange={(e) => setRecurrenceFrom(e.target.value as 'due' | 'completion')}
              >
                <option value="due">from the due date</option>
                <option value="completion">from completion</option>
              </select>
            </div>
            <small id={`${id}-rrule-words`} className="hint" data-testid="rrule-words">
              {recurrence ? rruleToText(recurrence, recurrenceFrom) : 'Does not repeat.'}
              {recurrence && !dueSet ? ' A repeating task needs a due date.' : ''}
            </small>
            <FieldErrors path="recurrence" problem={problem} />
          </div>
        </fieldset>
        <div className="dialog-actions">
          <Button onClick={onClose}>{readOnly ? 'Close' : 'Cancel'}</Button>
          {readOnly ? null : (
            <Button type="submit" variant="primary" busy={busy}>
              Save
            </Button>
          )}
        </div>
      </form>
    </dialog>
  );
}
