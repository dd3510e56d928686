/** Notification preferences and email deliveries (zod → OpenAPI); docs/notifications.md. */
import { z } from '@hono/zod-openapi';
import { isValidTimezone } from '../tasks/schedule/zone';

const Timestamp = z.string().openapi({ format: 'date-time' });
const Zone = z
  .string()
  .min(1)
  .max(64)
  .refine((v) => isValidTimezone(v), 'Unknown IANA time zone')
  .openapi({ example: 'Europe/Berlin' });
const ClockTime = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'A local time HH:MM')
  .openapi({ example: '22:00' });

export const CHANNELS = ['inapp', 'email'] as const;
export const NOTIFICATION_KINDS = ['reminder', 'system'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

const Channels = z
  .array(z.enum(CHANNELS))
  .max(2)
  .refine((l) => new Set(l).size === l.length, 'Channels must not repeat');

export const QuietHoursSchema = z
  .strictObject({
    start: ClockTime.openapi({ description: 'Local time the quiet window starts' }),
    end: ClockTime.openapi({ description: 'Local time it ends (before start: the window spans midnight)', example: '07:00' }),
    timeZone: Zone,
  })
  .refine((q) => q.start !== q.end, { message: 'start and end must differ', path: ['end'] })
  .openapi('QuietHours');

export const NotificationPreferencesSchema = z
  .strictObject({
    email: z.strictObject({
      enabled: z.boolean().openapi({ description: 'Email at all (one-click unsubscribe turns this off)' }),
      address: z.email().max(254).nullable().openapi({
        description: "Where to send; null = the account's address (the only one accepted until other addresses can be verified)",
      }),
      digest: z.enum(['off', 'daily']).openapi({ description: 'daily: what is not urgent (system notices) waits for one email a day' }),
      quietHours: QuietHoursSchema.nullable().openapi({ description: 'Email due inside the window is deferred to its end' }),
      locale: z
        .string()
        .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'A BCP 47 language tag')
        .max(35)
        .optional()
        .openapi({ description: 'Language and format of dates in emails (BCP 47); default en', example: 'de-DE' }),
    }),
    kinds: z
      .strictObject({
        reminder: Channels.openapi({ description: "Task reminders; default ['inapp', 'email']" }),
        system: Channels.openapi({ description: "Platform notices for admins (e.g. a webhook endpoint disabled); default ['inapp']" }),
      })
      .openapi({
        description: 'Channels per notification kind. In-app notifications are always kept; the list says whether email goes too.',
      }),
  })
  .openapi('NotificationPreferences');

export type NotificationPreferences = z.infer<typeof NotificationPreferencesSchema>;

/** What a member who never chose gets: in-app only. */
export const DEFAULT_PREFERENCES: NotificationPreferences = {
  email: { enabled: false, address: null, digest: 'off', quietHours: null },
  kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
};

export const EMAIL_DELIVERY_STATUSES = ['queued', 'sent', 'failed', 'suppressed', 'deferred'] as const;

export const EmailDeliverySchema = z
  .object({
    id: z.string(),
    notificationId: z.string(),
    channel: z.literal('email'),
    recipientId: z.string().openapi({ description: 'The member (user id)' }),
    status: z.enum(EMAIL_DELIVERY_STATUSES),
    reason: z
      .string()
      .nullable()
      .openapi({ description: 'Why suppressed (preferences, unsubscribed, bounced, unverified) or deferred (quiet_hours, digest)' }),
    attempts: z.number().int(),
    nextAttemptAt: Timestamp.nullable(),
    providerMessageId: z.string().nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('EmailDelivery');

export type EmailDelivery = z.infer<typeof EmailDeliverySchema>;
