import { Link } from 'react-router';
import { Empty } from '../ui';

export default function NotFound() {
  return (
    <section className="page">
      <Empty title="No page here.">
        <Link to="/tasks">Go to the task board</Link>
      </Empty>
    </section>
  );
}
