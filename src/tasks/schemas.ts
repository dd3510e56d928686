/** zod schemas for the task API (→ OpenAPI). Used by the Worker routes and by the hub for socket mutations. */
import { z } from '@hono/zod-openapi';
import { PageQuerySchema } from '../lib/pagination';

const Timestamp = z.string().openapi({ format: 'date-time' });
const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'Expected a date YYYY-MM-DD')
  .openapi({ example: '2026-12-01' });
const Instant = z.iso.datetime({ offset: true }).openapi({ example: '2026-12-01T09:00:00Z' });
const Label = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[^\s,#]+$/, 'Labels have no spaces, commas or #');

export const ReminderSchema = z
  .union([
    z.strictObject({
      before: z.string().min(2).max(32).openapi({ description: 'ISO 8601 duration before the due time', example: 'PT30M' }),
    }),
    z.strictObject({ at: Instant.openapi({ description: 'An absolute instant' }) }),
  ])
  .openapi('Reminder');

const patchFields = {
  title: z.string().trim().min(1).max(500),
  notes: z.string().max(10_000).nullable(),
  priority: z
    .union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)])
    .openapi({ description: '1 = most urgent (p1) … 4 = normal (p4)' }),
  labels: z.array(Label).max(50),
  assigneeId: z.string().min(1).max(64).nullable().openapi({ description: 'A member of the tenant (user id)' }),
  dueDate: LocalDate.nullable().openapi({ description: 'All-day due date (exclusive with dueAt)' }),
  dueAt: Instant.nullable().openapi({ description: 'Due instant (exclusive with dueDate)' }),
  timezone: z
    .string()
    .min(1)
    .max(64)
    .openapi({ description: 'IANA time zone for recurrence and all-day reminders', example: 'Europe/Berlin' }),
  recurrence: z
    .string()
    .min(6)
    .max(500)
    .nullable()
    .openapi({ description: 'RFC 5545 RRULE (without DTSTART); the series starts at the due', example: 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO' }),
  recurrenceFrom: z
    .enum(['due', 'completion'])
    .openapi({ description: "'due': next from the schedule (Todoist every); 'completion': next from the completion date (every!)" }),
  reminders: z.array(ReminderSchema).max(10),
};

const optionalFields = {
  notes: patchFields.notes.optional(),
  priority: patchFields.priority.optional(),
  labels: patchFields.labels.optional(),
  assigneeId: patchFields.assigneeId.optional(),
  dueDate: patchFields.dueDate.optional(),
  dueAt: patchFields.dueAt.optional(),
  timezone: patchFields.timezone.optional(),
  recurrence: patchFields.recurrence.optional(),
  recurrenceFrom: patchFields.recurrenceFrom.optional(),
  reminders: patchFields.reminders.optional(),
};

const oneDue = (t: { dueDate?: string | null | undefined; dueAt?: string | null | undefined }) => !(t.dueDate && t.dueAt);
const oneDueMessage = { message: 'Set either dueDate or dueAt, not both', path: ['dueAt'] };

export const TaskCreateSchema = z
  .strictObject({ title: patchFields.title, ...optionalFields })
  .refine(oneDue, oneDueMessage)
  .openapi('TaskCreate');

export const TaskPatchSchema = z
  .strictObject({ title: patchFields.title.optional(), ...optionalFields })
  .refine(oneDue, oneDueMessage)
  .openapi('TaskPatch');

export const TaskSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    notes: z.string().nullable(),
    status: z.enum(['open', 'done']),
    priority: z.number().int().min(1).max(4),
    labels: z.array(z.string()),
    assigneeId: z.string().nullable(),
    dueDate: z.string().nullable(),
    dueAt: Timestamp.nullable(),
    timezone: z.string(),
    recurrence: z.string().nullable(),
    recurrenceFrom: z.enum(['due', 'completion']),
    reminders: z.array(ReminderSchema),
    nextReminderAt: Timestamp.nullable(),
    version: z.number().int(),
    createdBy: z.string(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
    completedAt: Timestamp.nullable(),
  })
  .openapi('Task');

export const TaskListQuery = PageQuerySchema.extend({
  status: z
    .enum(['open', 'done'])
    .optional()
    .openapi({ param: { name: 'status', in: 'query' } }),
  dueFrom: z
    .string()
    .optional()
    .openapi({ param: { name: 'dueFrom', in: 'query' }, description: 'Date or instant; due on or after' }),
  dueTo: z
    .string()
    .optional()
    .openapi({ param: { name: 'dueTo', in: 'query' }, description: 'Date or instant; due on or before' }),
  label: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: 'label', in: 'query' } }),
  assigneeId: z
    .string()
    .max(64)
    .optional()
    .openapi({ param: { name: 'assigneeId', in: 'query' } }),
  q: z
    .string()
    .max(200)
    .optional()
    .openapi({ param: { name: 'q', in: 'query' }, description: 'Text search in title and notes' }),
});

export const HistoryEntrySchema = z
  .object({
    id: z.string(),
    taskId: z.string(),
    dueDate: z.string().nullable(),
    dueAt: Timestamp.nullable(),
    completedAt: Timestamp,
    completedBy: z.string(),
  })
  .openapi('TaskHistoryEntry');

export const NotificationSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['reminder', 'system']),
    taskId: z.string().nullable(),
    title: z.string(),
    body: z.string().nullable(),
    fireAt: Timestamp.nullable(),
    createdAt: Timestamp,
    readAt: Timestamp.nullable(),
  })
  .openapi('Notification');

export const ChangeSchema = z
  .object({
    version: z.number().int(),
    entity: z.enum(['task', 'notification', 'run', 'feedback', 'chat']).openapi({ description: 'chat: a ChatSummary (GET /v1/chats)' }),
    entityId: z.string(),
    op: z.enum(['upsert', 'delete']),
    data: z.union([TaskSchema, NotificationSchema, z.record(z.string(), z.unknown())]).nullable(),
    occurredAt: Timestamp,
  })
  .openapi('Change');

export const SyncResponseSchema = z
  .object({ changes: z.array(ChangeSchema), version: z.number().int(), hasMore: z.boolean() })
  .openapi('SyncPage');

export const SnapshotItemSchema = z
  .object({
    entity: z.enum(['task', 'notification', 'feedback', 'chat']),
    entityId: z.string(),
    data: z.union([TaskSchema, NotificationSchema, z.record(z.string(), z.unknown())]),
  })
  .openapi('SnapshotItem');

export const SnapshotPageSchema = z
  .object({
    data: z.array(SnapshotItemSchema),
    version: z.number().int().openapi({ description: 'The version the snapshot is valid from: apply changes after it' }),
    nextCursor: z.string().nullable(),
  })
  .openapi('SyncSnapshotPage');
