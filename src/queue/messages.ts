/** The EVENTS queue message: one domain event. Documented in docs/storage-schema.md. */
import { z } from 'zod';

export const EventMessageSchema = z.object({
  id: z.string().min(1),
  type: z.string().regex(/^[a-z_]+(\.[a-z_]+)+$/),
  tenantId: z.string().min(1),
  occurredAt: z.string().datetime(),
  sequence: z.number().int().nonnegative(),
  data: z.record(z.string(), z.unknown()),
});

export type EventMessage = z.infer<typeof EventMessageSchema>;
