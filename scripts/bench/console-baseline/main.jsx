// The console bench's baseline (scripts/bench/console.mjs): React + ReactDOM and nothing else.
// Reads the same snapshot the console reads (GET /v1/sync/snapshot, page by page) with a bearer
// token from the URL fragment and renders one <li> per task.
import { useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';

const params = new URLSearchParams(location.hash.slice(1));
const api = params.get('api');
const token = params.get('token');

async function loadTasks() {
  const tasks = [];
  let cursor = '';
  do {
    const res = await fetch(`${api}/v1/sync/snapshot?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    const page = await res.json();
    for (const item of page.data) if (item.entity === 'task') tasks.push(item.data);
    cursor = page.nextCursor ?? '';
  } while (cursor);
  return tasks;
}

function App() {
  const [tasks, setTasks] = useState(null);
  useEffect(() => {
    loadTasks().then(setTasks);
  }, []);
  if (!tasks) return <p>Loading…</p>;
  return (
    <ul>
      {tasks.map((t) => (
        <li key={t.id} data-task-id={t.id}>
          {t.title}
        </li>
      ))}
    </ul>
  );
}

createRoot(document.getElementById('root')).render(<App />);
