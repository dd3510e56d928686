/** Structured JSON logs: one object per line, picked up by Workers Logs / `wrangler tail`. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Keys whose values are never written to a log, at any depth. */
const REDACTED_KEYS = /pass(word)?|secret|token|authorization|api[-_]?key|cookie|private/i;

/** JSON.stringify's replacer: one pass over the line, no copy of it (every request writes one, issue 20). */
function redacting(key: string, value: unknown): unknown {
  return key !== '' && REDACTED_KEYS.test(key) ? '[redacted]' : value;
}

/** One JSON line per call; `base` fields (request id, environment…) on every line, a call's own fields after them. */
class JsonLogger implements Logger {
  constructor(private readonly base: LogFields) {}

  #write(level: LogLevel, msg: string, fields?: LogFields): void {
    const line = JSON.stringify({ level, msg, time: new Date().toISOString(), ...this.base, ...fields }, redacting);
    if (level === 'error') console.error(line);
    else if (level === 'warn') console.warn(line);
    else console.log(line);
  }

  debug(msg: string, fields?: LogFields): void {
    this.#write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.#write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.#write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.#write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger({ ...this.base, ...fields });
  }
}

export function createLogger(base: LogFields = {}): Logger {
  return new JsonLogger(base);
}

/** Serializes an unknown thrown value for logs (never for clients). */
export function errorFields(err: unknown): LogFields {
  if (err instanceof Error) return { error: { name: err.name, message: err.message, stack: err.stack } };
  return { error: { message: String(err) } };
}
