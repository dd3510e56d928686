/** Cursor pagination: `?limit=&cursor=` → `{ data, nextCursor }`. Cursors are opaque base64url. */
import { z } from '@hono/zod-openapi';
import { AppError } from './problem';

export const PageQuerySchema = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .openapi({ param: { name: 'limit', in: 'query' }, example: 50 }),
  cursor: z
    .string()
    .max(512)
    .optional()
    .openapi({ param: { name: 'cursor', in: 'query' } }),
});

export function pageSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), nextCursor: z.string().nullable() }).openapi(name);
}

/** A page request as services take it: `{ limit, cursor }` (the validated PageQuerySchema). */
export interface PageInput {
  limit: number;
  cursor?: string | undefined;
}

export function encodeCursor(value: string): string {
  return btoa(value).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v = atob(cursor.replace(/-/g, '+').replace(/_/g, '/'));
    if (v.length === 0 || v.length > 256) throw new Error('bad');
    return v;
  } catch {
    throw new AppError('validation_failed', 'The cursor is not valid.', {
      errors: [{ in: 'query', path: 'cursor', pointer: '/cursor', message: 'Invalid cursor', code: 'invalid_cursor' }],
    });
  }
}

/** Takes `limit + 1` rows and returns the page plus the next cursor from the last row's key. */
export function toPage<T>(rows: T[], limit: number, key: (row: T) => string): { data: T[]; nextCursor: string | null } {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(key(last)) : null };
}
