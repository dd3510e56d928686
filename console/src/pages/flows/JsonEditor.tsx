/** A JSON textarea with a line-number gutter that marks the lines validation problems point at. */
import { useMemo, useRef } from 'react';
import { lineOfPath, locatePaths } from './json-paths';

export type Problem = { path: string; message: string; code?: string };

export function JsonEditor(props: {
  id: string;
  value: string;
  onChange: (v: string) => void;
  problems: Problem[];
  readOnly: boolean;
  label: string;
}) {
  const { id, value, onChange, problems, readOnly, label } = props;
  const area = useRef<HTMLTextAreaElement>(null);
  const gutter = useRef<HTMLPreElement>(null);
  const lines = useMemo(() => value.split('\n').length, [value]);
  const located = useMemo(() => locatePaths(value), [value]);
  const bad = useMemo(() => {
    const m = new Map<number, string[]>();
    for (const p of problems) {
      const line = lineOfPath(located, p.path) ?? 1;
      m.set(line, [...(m.get(line) ?? []), `${p.path || '(definition)'}: ${p.message}`]);
    }
    return m;
  }, [problems, located]);
  return (
    <div className="json-editor">
      <pre className="json-editor__gutter" aria-hidden="true" ref={gutter}>
        {Array.from({ length: lines }, (_, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the key is the line number
          <span key={i} className={bad.has(i + 1) ? 'bad' : undefined} title={bad.get(i + 1)?.join('\n')}>
            {i + 1}
            {'\n'}
          </span>
        ))}
      </pre>
      <textarea
        id={id}
        ref={area}
        aria-label={label}
        aria-invalid={problems.length > 0}
        aria-describedby={`${id}-problems`}
        spellCheck={false}
        autoCapitalize="off"
        autoComplete="off"
        wrap="off"
        readOnly={readOnly}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        onScroll={(e) => {
          if (gutter.current) gutter.current.scrollTop = e.currentTarget.scrollTop;
        }}
        data-testid="flow-json"
      />
    </div>
  );
}

/** Moves the caret to `line` of the editor and scrolls it into view. */
export function goToLine(id: string, text: string, line: number) {
  const el = document.getElementById(id) as HTMLTextAreaElement | null;
  if (!el) return;
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  const start = starts[line - 1] ?? 0;
  const end = (starts[line] ?? text.length + 1) - 1;
  el.focus();
  el.setSelectionRange(start, end);
  const lineHeight = Number.parseFloat(getComputedStyle(el).lineHeight) || 18;
  el.scrollTop = Math.max(0, (line - 4) * lineHeight);
}
