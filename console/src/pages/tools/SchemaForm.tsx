/**
 * The invoke form's controls, generated from the tool's inputSchema (schema-form-model.ts): one labelled
 * control per property, named `input.<property>` so the API's 422 field errors (`input.text`) land under
 * the right control. A schema the form cannot draw, or the "Edit as JSON" switch, gives one JSON box.
 */
import { useId } from 'react';
import { useFieldErrors } from '../../ui';
import { TextAreaField } from '../common/fields';
import type { FormField } from './schema-form-model';

function Control({ field, value, onChange }: { field: FormField; value: string; onChange: (v: string) => void }) {
  const id = useId();
  const name = `input.${field.name}`;
  const errors = useFieldErrors(name);
  const describedBy = [field.description ? `${id}-hint` : '', errors.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  const common = { id, name, 'aria-invalid': errors.length > 0 || undefined, 'aria-describedby': describedBy };
  let control: React.ReactNode;
  switch (field.kind) {
    case 'boolean':
      control = (
        <input type="checkbox" {...common} checked={value === 'true'} onChange={(e) => onChange(String(e.currentTarget.checked))} />
      );
      break;
    case 'enum':
      control = (
        <select {...common} value={value} onChange={(e) => onChange(e.currentTarget.value)}>
          {field.required ? null : <option value="">(none)</option>}
          {(field.options ?? []).map((o) => (
            <option key={JSON.stringify(o)} value={JSON.stringify(o)}>
              {typeof o === 'string' ? o : JSON.stringify(o)}
            </option>
          ))}
        </select>
      );
      break;
    case 'number':
    case 'integer':
      control = (
        <input
          type="number"
          step={field.kind === 'integer' ? 1 : 'any'}
          {...common}
          value={value}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      );
      break;
    case 'json':
      control = (
        <textarea
          className="code"
          rows={3}
          spellCheck={false}
          {...common}
          value={value}
          onChange={(e) => onChange(e.currentTarget.value)}
        />
      );
      break;
    default:
      control = field.multiline ? (
        <textarea rows={3} {...common} value={value} onChange={(e) => onChange(e.currentTarget.value)} />
      ) : (
        <input type="text" {...common} value={value} onChange={(e) => onChange(e.currentTarget.value)} />
      );
  }
  return (
    <div className={`field${errors.length ? ' field-invalid' : ''}${field.kind === 'boolean' ? ' field-check' : ''}`}>
      <label htmlFor={id}>
        {field.label}
        {field.required ? <span aria-hidden="true"> *</span> : null}
        {field.kind === 'json' ? <span className="muted"> (JSON)</span> : null}
      </label>
      {control}
      {field.description ? (
        <small id={`${id}-hint`} className="hint">
          {field.description}
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

export function SchemaFields({
  fields,
  values,
  onChange,
}: {
  fields: FormField[];
  values: Record<string, string>;
  onChange: (name: string, value: string) => void;
}) {
  return (
    <>
      {fields.map((f) => (
        <Control key={f.name} field={f} value={values[f.name] ?? f.initial} onChange={(v) => onChange(f.name, v)} />
      ))}
    </>
  );
}

/** The whole input as JSON (for schemas the form cannot draw, or by choice). */
export function RawInput({ value, onChange, hint }: { value: string; onChange: (v: string) => void; hint?: string }) {
  return (
    <TextAreaField
      label="Input (JSON)"
      name="input"
      className="code"
      rows={6}
      spellCheck={false}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      hint={hint}
    />
  );
}
