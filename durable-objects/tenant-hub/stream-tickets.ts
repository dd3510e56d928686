/**
 * Stream tickets (POST /v1/stream-tickets, src/identity/stream-tickets.ts):
 * single-use, 60 s, for one stream path, so a browser never puts a credential
 * in a URL. Kept in the tenant's hub: one writer makes "redeem once" a plain
 * delete-and-return. Only the ticket's hash is stored.
 */

/** The caller a ticket stands for (the credential that asked for it, as it resolved then). */
export interface TicketCaller {
  actorId: string;
  actorType: 'user' | 'api_key';
  role: 'admin' | 'member' | 'viewer';
  credentialId: string;
  plan: 'free' | 'pro';
  expiresAt: number | null;
}

interface TicketRow {
  path: string;
  caller: string;
  expires_at: number;
  [k: string]: SqlStorageValue;
}

export function issueTicket(sql: SqlStorage, hash: string, path: string, caller: TicketCaller, expiresAt: number, now: number): void {
  sql.exec(`DELETE FROM stream_tickets WHERE expires_at <= ?`, now);
  sql.exec(
    `INSERT INTO stream_tickets (hash, path, caller, expires_at) VALUES (?, ?, ?, ?)`,
    hash,
    path,
    JSON.stringify(caller),
    expiresAt,
  );
}

/** The ticket's caller if it is unexpired and for `path`; the ticket is spent either way. */
export function redeemTicket(sql: SqlStorage, hash: string, path: string, now: number): TicketCaller | null {
  const row = sql.exec<TicketRow>(`DELETE FROM stream_tickets WHERE hash = ? RETURNING path, caller, expires_at`, hash).toArray()[0];
  if (!row || row.expires_at <= now || row.path !== path) return null;
  return JSON.parse(row.caller) as TicketCaller;
}
