/** Request and response schemas for identity routes (zod → OpenAPI). */
import { z } from '@hono/zod-openapi';
import { DEFAULT_MAX_ACTIVE_RUNS, PLAN_CEILINGS } from '../flows/ceilings';
import { isValidTimezone } from '../tasks/schedule/zone';
import { ROLES } from './roles';

export const RoleSchema = z.enum(ROLES).openapi('Role');
const Email = z.email().max(254).openapi({ example: 'ana@example.com' });
const Password = z.string().min(1).max(256).openapi({ example: 'correct horse battery staple', format: 'password' });
const Name = z.string().trim().min(1).max(100);
const Timestamp = z.string().openapi({ format: 'date-time' });

/** An IANA time zone name this runtime knows ('Europe/Berlin'). */
export const TimeZoneName = z
  .string()
  .min(1)
  .max(64)
  .refine((v) => isValidTimezone(v), 'Unknown IANA time zone')
  .openapi({ example: 'Europe/Berlin' });

export const UserSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    emailVerified: z.boolean().openapi({
      description:
        'Whether the address was confirmed through its verification link (needed to join other tenants and to get email notifications)',
    }),
    name: z.string(),
    timezone: z.string().nullable().openapi({ description: "IANA time zone from the profile; null = the tenant's default" }),
    createdAt: Timestamp,
  })
  .openapi('User');
export const TenantSettingsSchema = z
  .strictObject({
    httpAllowlist: z
      .array(
        z
          .string()
          .trim()
          .min(1)
          .max(253)
          // No regex flags: the pattern is published in /openapi.json, where flags do not exist.
          .regex(/^(\*|(\*\.)?[a-zA-Z0-9.-]+)$/, 'A host name, *.domain or *'),
      )
      .max(100)
      .optional()
      .openapi({ description: 'Hosts that flow http nodes may call (exact host, *.domain, or *)' }),
    maxActiveRuns: z
      .number()
      .int()
      .min(1)
      .max(Math.max(...Object.values(PLAN_CEILINGS).map((c) => c.maxActiveRuns)))
      .optional()
      .openapi({
        description: `Concurrently active flow runs; more wait as queued (default ${DEFAULT_MAX_ACTIVE_RUNS}). At most the plan's ceiling (${Object.entries(
          PLAN_CEILINGS,
        )
          .map(([plan, c]) => `${plan} ${c.maxActiveRuns}`)
          .join(', ')}); above it → 422.`,
      }),
    timezone: TimeZoneName.optional().openapi({
      description: 'Default IANA time zone for members without one (quick add and the assistant); else UTC',
    }),
    assistantAgentId: z
      .string()
      .min(1)
      .max(64)
      .optional()
      .openapi({ description: 'The agent the assistant (/v1/chat) runs; default: the built-in assistant' }),
    mcpExposeTools: z.boolean().optional().openapi({
      description: "List the tenant's tools as MCP tools `tool_<name>` at /mcp (invoked as POST /v1/tools/{id}/invoke); default false",
    }),
  })
  .openapi('TenantSettings');

export const TenantSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    plan: z.enum(['free', 'pro']),
    settings: TenantSettingsSchema,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .openapi('Tenant');
const TenantMembershipSchema = z.object({ id: z.string(), name: z.string(), role: RoleSchema });

const SessionFields = {
  accessToken: z.string(),
  refreshToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().openapi({ description: 'Access token lifetime in seconds' }),
};

export const SignupBody = z.strictObject({ email: Email, password: Password, name: Name, tenantName: Name }).openapi('SignupRequest');
export const LoginBody = z.strictObject({ email: Email, password: Password, tenantId: z.string().optional() }).openapi('LoginRequest');
export const RefreshBody = z.strictObject({ refreshToken: z.string().min(1).max(512) }).openapi('RefreshRequest');
export const LogoutBody = z.strictObject({ refreshToken: z.string().min(1).max(512).optional() }).openapi('LogoutRequest');

export const AuthResultSchema = z
  .object({
    user: UserSchema,
    tenant: TenantSchema,
    role: RoleSchema,
    tenants: z.array(TenantMembershipSchema).optional(),
    ...SessionFields,
  })
  .openapi('AuthResult');
export const TokenPairSchema = z.object(SessionFields).openapi('TokenPair');

export const ApiKeySchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: RoleSchema,
    prefix: z.string().openapi({ description: 'First characters of the key, to tell keys apart' }),
    createdBy: z.string(),
    createdAt: Timestamp,
    expiresAt: Timestamp.nullable(),
    lastUsedAt: Timestamp.nullable(),
  })
  .openapi('ApiKey');
export const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().openapi({ description: 'The secret; shown only in this response' }),
}).openapi('CreatedApiKey');
export const CreateApiKeyBody = z
  .strictObject({ name: Name, role: RoleSchema.default('member'), expiresAt: z.iso.datetime({ offset: true }).optional() })
  .openapi('CreateApiKeyRequest');

export const MeSchema = z
  .object({
    actor: z.object({ type: z.enum(['user', 'api_key']), id: z.string() }),
    // Unions with null, not .nullable(): the generator publishes a nullable component as a bare $ref.
    user: z.union([UserSchema, z.null()]),
    apiKey: z.union([ApiKeySchema, z.null()]),
    tenant: TenantSchema,
    role: RoleSchema,
    tenants: z.array(TenantMembershipSchema),
  })
  .openapi('Me');
export const UpdateMeBody = z
  .strictObject({
    timezone: z.union([TimeZoneName, z.null()]).optional().openapi({ description: "Your IANA time zone (null: use the tenant's)" }),
  })
  .openapi('UpdateMeRequest');
export const UpdateTenantBody = z
  .strictObject({ name: Name.optional(), settings: TenantSettingsSchema.optional() })
  .openapi('UpdateTenantRequest');

export const MemberSchema = z
  .object({ userId: z.string(), email: z.string(), name: z.string(), role: RoleSchema, joinedAt: Timestamp })
  .openapi('Member');
export const UpdateMemberBody = z.strictObject({ role: RoleSchema }).openapi('UpdateMemberRequest');

export const InvitationSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    role: RoleSchema,
    invitedBy: z.string(),
    status: z.enum(['pending', 'accepted', 'revoked', 'expired']),
    expiresAt: Timestamp,
    createdAt: Timestamp,
    acceptedAt: Timestamp.nullable(),
  })
  .openapi('Invitation');
export const CreatedInvitationSchema = InvitationSchema.extend({
  token: z.string().openapi({ description: 'Single-use token; shown only in this response' }),
}).openapi('CreatedInvitation');
export const CreateInvitationBody = z.strictObject({ email: Email, role: RoleSchema.default('member') }).openapi('CreateInvitationRequest');
export const AcceptInvitationBody = z
  .strictObject({ token: z.string().min(1).max(512), password: Password.optional(), name: Name.optional() })
  .openapi('AcceptInvitationRequest');

export const AuditEntrySchema = z
  .object({
    id: z.string(),
    actorType: z.enum(['user', 'api_key', 'system', 'anonymous']),
    actorId: z.string().nullable(),
    action: z.string(),
    targetType: z.string().nullable(),
    targetId: z.string().nullable(),
    ip: z.string().nullable(),
    requestId: z.string().nullable(),
    metadata: z.record(z.string(), z.unknown()).nullable(),
    createdAt: Timestamp,
  })
  .openapi('AuditEntry');

export const IdParam = (name: string, example: string) =>
  z.object({
    [name]: z
      .string()
      .min(1)
      .max(64)
      .openapi({ param: { name, in: 'path' }, example }),
  });

export const StreamTicketBody = z
  .strictObject({
    path: z.string().min(1).max(200).openapi({ example: '/v1/runs/run_01hzy0000000000000000000000/events' }),
  })
  .openapi('StreamTicketRequest');

export const StreamTicketSchema = z
  .object({
    ticket: z.string().openapi({ description: 'Single use, for `path` only; append as `?ticket=`.' }),
    path: z.string(),
    expiresAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('StreamTicket');
