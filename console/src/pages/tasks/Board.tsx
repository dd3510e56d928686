/** The task board (first cut for the scaffold): open and done columns, and a box to add a task. */
import { useCallback, useEffect, useState } from 'react';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Empty, ErrorBanner, Field, Form, Loading } from '../../ui';

type Task = Schemas['Task'];

export default function Board() {
  const client = useClient();
  const { can } = useRole();
  const [tasks, setTasks] = useState<Task[] | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const load = useCallback(async () => {
    try {
      const page = await client.call(client.api.GET('/v1/tasks', { params: { query: { limit: 100 } } }));
      setTasks(page.data);
    } catch (err) {
      setProblem(toProblem(err));
    }
  }, [client]);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <section className="page">
      <h1>Tasks</h1>
      <ErrorBanner problem={problem} />
      {can('data:write') ? (
        <Form
          className="inline-form"
          aria-label="New task"
          submitLabel="Add"
          onSubmit={async (data) => {
            await client.call(client.api.POST('/v1/tasks', { body: { title: String(data.get('title')) } }));
            await load();
          }}
        >
          <Field label="New task" name="title" placeholder="What needs doing?" required />
        </Form>
      ) : null}
      {tasks === null ? (
        <Loading label="Loading tasks" />
      ) : (
        <div className="columns">
          {(['open', 'done'] as const).map((status) => {
            const column = tasks.filter((t) => t.status === status);
            return (
              <section key={status} className="column" aria-label={status === 'open' ? 'To do' : 'Done'}>
                <h2>{status === 'open' ? 'To do' : 'Done'}</h2>
                {column.length === 0 ? (
                  <Empty title="Nothing here." />
                ) : (
                  <ul>
                    {column.map((t) => (
                      <li key={t.id} className="card">
                        {t.title}
                      </li>
                    ))}
                  </ul>
                )}
              </section>
            );
          })}
        </div>
      )}
    </section>
  );
}
