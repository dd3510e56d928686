/**
 * Forms that show problem+json errors where they belong: a field error (`errors[].path`, e.g.
 * `email` or `steps/0/name`) under its field, the rest in a banner above the form.
 */
import { createContext, type FormEvent, type InputHTMLAttributes, type ReactNode, useContext, useId, useRef, useState } from 'react';
import { type ApiProblem, toProblem } from '../api/client';
import { Button } from './Button';
import { ErrorBanner } from './ErrorBanner';

const ProblemContext = createContext<{ problem: ApiProblem | null; claim: (path: string) => void }>({
  problem: null,
  claim: () => undefined,
});

/** Normalises `/steps/0/name`, `steps.0.name` and `steps/0/name` to one key. */
export function pathKey(path: string): string {
  return path.replace(/^\//, '').replaceAll('.', '/');
}

/** A form that runs `onSubmit`, shows its problem by field, and disables the submit button meanwhile. */
export function Form({
  onSubmit,
  submitLabel,
  children,
  className,
  'aria-label': ariaLabel,
}: {
  onSubmit: (data: FormData) => Promise<void>;
  submitLabel: string;
  children: ReactNode;
  className?: string;
  'aria-label'?: string;
}) {
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  // Fields claim their paths as they render; a problem arrives after they have.
  const fieldPaths = useRef(new Set<string>()).current;
  const submit = async (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await onSubmit(new FormData(e.currentTarget));
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(false);
    }
  };
  // Errors no field claimed go to the banner.
  const unclaimed = problem ? { ...problem, errors: problem.errors.filter((e) => !fieldPaths.has(pathKey(e.path))) } : null;
  return (
    <ProblemContext.Provider value={{ problem, claim: (p) => fieldPaths.add(pathKey(p)) }}>
      <form className={className ?? 'form'} onSubmit={submit} aria-label={ariaLabel} noValidate>
        <ErrorBanner problem={unclaimed} />
        {children}
        <Button type="submit" variant="primary" busy={busy}>
          {submitLabel}
        </Button>
      </form>
    </ProblemContext.Provider>
  );
}

/** The field errors for `path` in the nearest Form's problem (or in `problem`). */
export function useFieldErrors(path: string, problem?: ApiProblem | null): string[] {
  const ctx = useContext(ProblemContext);
  ctx.claim(path);
  const p = problem === undefined ? ctx.problem : problem;
  return (p?.errors ?? []).filter((e) => pathKey(e.path) === pathKey(path)).map((e) => e.message);
}

/**
 * The frame every field shares: label, control, hint and the field's problem+json errors (the ids the
 * control's `aria-describedby` names, from `describedBy`).
 */
export function FieldFrame({
  id,
  label,
  hint,
  errors,
  children,
}: {
  id: string;
  label: string;
  hint?: ReactNode;
  errors: string[];
  children: ReactNode;
}) {
  return (
    <div className={`field${errors.length ? ' field-invalid' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {children}
      {hint ? (
        <small id={`${id}-hint`} className="hint">
          {hint}
        </small>
      ) : null}
      {errors.length ? (
        <small id={`${id}-err`} className="field-error" role="alert">
          {errors.join(' ')}
        </small>
      ) : null}
    </div>
  );
}

/** The control's `aria-describedby` for a FieldFrame with this hint and these errors. */
export const describedBy = (id: string, hint: unknown, errors: string[]): string | undefined =>
  [hint ? `${id}-hint` : '', errors.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;

/**
 * What every field needs: an id, its problem+json errors (by `name`, the request field path), the
 * control's own attributes (id, name, aria-invalid, aria-describedby) and the FieldFrame around it.
 */
export function useField(name: string, label: string, hint: ReactNode, problem: ApiProblem | null | undefined) {
  const id = useId();
  const errors = useFieldErrors(name, problem);
  const control = { id, name, 'aria-invalid': errors.length > 0 || undefined, 'aria-describedby': describedBy(id, hint, errors) };
  const frame = (children: ReactNode) => (
    <FieldFrame id={id} label={label} hint={hint} errors={errors}>
      {children}
    </FieldFrame>
  );
  return { control, frame };
}

/** A labelled input whose problem+json errors (by `name`, the request field path) appear under it. */
export function Field({
  label,
  name,
  hint,
  problem,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: string; name: string; hint?: string; problem?: ApiProblem | null }) {
  const { control, frame } = useField(name, label, hint, problem);
  return frame(<input {...control} {...input} />);
}
