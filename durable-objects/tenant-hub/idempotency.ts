/**
 * Idempotency-Key records in the tenant's hub (the middleware is
 * src/middleware/idempotency.ts). The hub runs one call at a time, so "claim the
 * key" is a plain read-then-write with no race: the second of two concurrent
 * requests finds the first one's claim and is told it is in flight.
 */

export interface StoredResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type BeginResult =
  | { state: 'started' }
  | { state: 'in_flight' }
  | { state: 'mismatch' }
  | { state: 'replay'; response: StoredResponse };

interface KeyRow {
  fingerprint: string;
  state: 'in_flight' | 'done';
  response: string | null;
  locked_until: number | null;
  [k: string]: SqlStorageValue;
}

export interface KeyTimes {
  now: number;
  /** How long a claim holds before it counts as abandoned (the Worker died mid-request). */
  leaseMs: number;
  /** How long a key is remembered after its first use. */
  ttlMs: number;
}

export function beginKey(sql: SqlStorage, key: string, fingerprint: string, t: KeyTimes): BeginResult {
  sql.exec(`DELETE FROM idempotency_keys WHERE expires_at <= ?`, t.now);
  const row = sql.exec<KeyRow>(`SELECT fingerprint, state, response, locked_until FROM idempotency_keys WHERE key = ?`, key).toArray()[0];
  if (!row) {
    sql.exec(
      `INSERT INTO idempotency_keys (key, fingerprint, state, locked_until, expires_at) VALUES (?, ?, 'in_flight', ?, ?)`,
      key,
      fingerprint,
      t.now + t.leaseMs,
      t.now + t.ttlMs,
    );
    return { state: 'started' };
  }
  if (row.fingerprint !== fingerprint) return { state: 'mismatch' };
  if (row.state === 'done' && row.response !== null) return { state: 'replay', response: JSON.parse(row.response) as StoredResponse };
  if ((row.locked_until ?? 0) > t.now) return { state: 'in_flight' };
  sql.exec(`UPDATE idempotency_keys SET locked_until = ? WHERE key = ?`, t.now + t.leaseMs, key);
  return { state: 'started' };
}

export function completeKey(sql: SqlStorage, key: string, fingerprint: string, response: StoredResponse): void {
  sql.exec(
    `UPDATE idempotency_keys SET state = 'done', response = ?, locked_until = NULL WHERE key = ? AND fingerprint = ?`,
    JSON.stringify(response),
    key,
    fingerprint,
  );
}

/** Forgets an in-flight claim (the request failed in a way worth retrying: 5xx, 429). */
export function releaseKey(sql: SqlStorage, key: string, fingerprint: string): void {
  sql.exec(`DELETE FROM idempotency_keys WHERE key = ? AND fingerprint = ? AND state = 'in_flight'`, key, fingerprint);
}
