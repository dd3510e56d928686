/**
 * A textarea and a select in the same FieldFrame as the scaffold's `Field` (ui/Form.tsx), plus the
 * secret-once panel and error folding the admin pages share.
 */
import type { ReactNode, SelectHTMLAttributes, TextareaHTMLAttributes } from 'react';
import { ApiError, type ApiProblem } from '../../api/client';
import { useField } from '../../ui';

export function TextAreaField({
  label,
  name,
  hint,
  problem,
  ...rest
}: TextareaHTMLAttributes<HTMLTextAreaElement> & { label: string; name: string; hint?: ReactNode; problem?: ApiProblem | null }) {
  const { control, frame } = useField(name, label, hint, problem);
  return frame(<textarea {...control} {...rest} />);
}

export function SelectField({
  label,
  name,
  hint,
  problem,
  options,
  ...rest
}: SelectHTMLAttributes<HTMLSelectElement> & {
  label: string;
  name: string;
  hint?: ReactNode;
  problem?: ApiProblem | null;
  options: Array<{ value: string; label: string }>;
}) {
  const { control, frame } = useField(name, label, hint, problem);
  return frame(
    <select {...control} {...rest}>
      {options.map((o) => (
        <option key={o.value} value={o.value}>
          {o.label}
        </option>
      ))}
    </select>,
  );
}

/** A secret shown once, with a copy button and the warning that it will not be shown again. */
export function SecretOnce({ label, value, onDone }: { label: string; value: string; onDone: () => void }) {
  return (
    <div className="secret-once" role="status" aria-live="polite">
      <p>
        <strong>{label}</strong> — copy it now; it is not shown again.
      </p>
      <code className="secret" data-testid="secret-value">
        {value}
      </code>
      <div className="row">
        <button type="button" className="btn btn-secondary" onClick={() => void navigator.clipboard?.writeText(value)}>
          Copy
        </button>
        <button type="button" className="btn btn-link" onClick={onDone}>
          I have copied it
        </button>
      </div>
    </div>
  );
}

/**
 * Rethrows `err` with field errors under `fields` folded onto the field itself (`eventTypes[2]` →
 * `eventTypes`, message "2: …", or what `name` calls the rest of the path), for controls that edit a whole list or JSON document at once.
 */
export function foldErrors(err: unknown, fields: string[], name: (rest: string) => string = (rest) => rest): never {
  if (err instanceof ApiError) {
    const errors = err.problem.errors.map((e) => {
      // The API writes paths as `eventTypes[1]` or `inputSchema.properties.a`; pointers as `/eventTypes/1`.
      const parts = e.path.split(/[./[\]]+/).filter(Boolean);
      for (const field of fields) {
        const head = field.split('.');
        if (parts.length > head.length && head.every((p, i) => parts[i] === p)) {
          return { path: field, message: `${name(parts.slice(head.length).join('.'))}: ${e.message}` };
        }
      }
      return e;
    });
    throw new ApiError({ ...err.problem, errors });
  }
  throw err;
}
