/** The operator view of a tenant's dead letters (GET /v1/dead-letters): what the queues gave up on, and where re-drives stand. */
import { and, desc, eq, lt } from 'drizzle-orm';
import { deadLetters } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { MAX_REDRIVES } from './dead-letters';

type DeadLetter = typeof deadLetters.$inferSelect;

function view(d: DeadLetter) {
  return {
    id: d.id,
    kind: d.kind,
    queue: d.queue,
    status: d.status,
    deaths: d.deaths,
    redrives: d.redrives,
    maxRedrives: MAX_REDRIVES,
    nextRedriveAt: d.status === 'pending' ? d.nextRedriveAt : null,
    body: d.body,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

export async function listDeadLetters(ctx: ServiceCtx, q: PageInput & { status?: DeadLetter['status'] | undefined }) {
  const after = decodeCursor(q.cursor);
  const rows = (await ctx.scope
    .select(
      deadLetters as typeof deadLetters & { tenantId: typeof deadLetters.tenantId },
      and(q.status ? eq(deadLetters.status, q.status) : undefined, after ? lt(deadLetters.id, after) : undefined),
    )
    .orderBy(desc(deadLetters.id))
    .limit(q.limit + 1)
    .all()) as DeadLetter[];
  const page = toPage(rows, q.limit, (r) => r.id);
  return { data: page.data.map(view), nextCursor: page.nextCursor };
}
