import type { ApiProblem } from '../api/client';

/** A problem+json answer as a banner: title, detail, and field errors that no field on the page shows. */
export function ErrorBanner({ problem, onDismiss }: { problem: ApiProblem | null; onDismiss?: () => void }) {
  if (!problem) return null;
  return (
    <div className="error-banner" role="alert">
      <strong>{problem.title}</strong>
      {problem.detail ? <span> {problem.detail}</span> : null}
      {problem.errors.length > 0 ? (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              <code>{e.path || '(body)'}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {onDismiss ? (
        <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss error">
          ×
        </button>
      ) : null}
    </div>
  );
}
