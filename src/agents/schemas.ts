/** API schemas for agents (→ OpenAPI), built from the contract's definition fields. */
import { z } from '@hono/zod-openapi';
import { versionedHeadFields, versionFields } from '../lib/openapi';
import { AgentToolRefSchema, agentSpecShape, modelRule } from './contract';

export const AgentBody = z
  .strictObject({ ...agentSpecShape, description: z.string().max(2000).nullable().optional() })
  .refine(...modelRule)
  .openapi('AgentRequest');
export type AgentBodyInput = z.infer<typeof AgentBody>;

const ToolRef = AgentToolRefSchema.openapi('AgentToolRef');

/** The definition fields as stored in a version and shown by GET. */
const specFields = {
  role: z.string(),
  goal: z.string(),
  instructions: z.string(),
  providers: z.array(z.string()),
  model: z.string().optional(),
  maxSteps: z.number().int(),
  temperature: z.number().optional(),
  outputSchema: z.unknown().optional(),
  tools: z.array(ToolRef),
};

export const AgentSchema = z
  .object({
    ...versionedHeadFields,
    ...Object.fromEntries(Object.entries(specFields).map(([k, v]) => [k, v.optional()])),
  })
  .openapi('Agent');

export const AgentVersionSchema = z
  .object({
    ...versionFields,
    spec: z.object({ name: z.string(), ...specFields }),
  })
  .openapi('AgentVersion');
