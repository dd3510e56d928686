/** The run's event log in order (streamed text deltas left out: the node's output has the text). */
import { describeEvent, type RunEvent } from './run-state';

const time = (at: string) => {
  const d = new Date(at);
  return `${d.toLocaleTimeString(undefined, { hour12: false })}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};

export function Timeline({ events, onSelect }: { events: RunEvent[]; onSelect: (nodeId: string) => void }) {
  return (
    <section className="run-timeline" aria-label="Timeline">
      <h2>Timeline</h2>
      {events.length === 0 ? (
        <p className="muted">No events yet.</p>
      ) : (
        <ol data-testid="timeline">
          {events.map((e) => (
            <li key={e.seq} className={`tl tl--${e.type.replace('.', '-')}`}>
              <time dateTime={e.at}>{time(e.at)}</time>
              <span className="tl__type">{e.type}</span>
              {e.nodeId ? (
                <button type="button" className="link" onClick={() => onSelect(e.nodeId!)}>
                  {e.nodeId}
                </button>
              ) : null}
              <span className="tl__detail">{describeEvent(e)}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
