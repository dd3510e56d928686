/**
 * approval: waits for POST /v1/runs/{id}/signal { node, payload }; optional timeout fails the node.
 * `approvers` restricts who may signal it (a role listed, or a member/API key id listed); the
 * signaller is taken from the credential and recorded by the run, never read from the payload.
 */
import { z } from 'zod';
import { ROLES, type Role } from '../../identity/roles';
import { defineNode } from './types';

const ApproversSchema = z
  .strictObject({
    roles: z.array(z.enum(ROLES)).min(1).max(3).optional(),
    members: z.array(z.string().min(1).max(64)).min(1).max(100).optional(),
  })
  .refine((a) => a.roles !== undefined || a.members !== undefined, 'Name roles, members or both');

export type Approvers = z.infer<typeof ApproversSchema>;

/** Who signalled, from the credential. */
export interface Signer {
  actorType: 'user' | 'api_key';
  actorId: string;
  role: Role;
}

/** No `approvers`: anyone who may write data (the route's guard). Otherwise a listed role or a listed id. */
export function mayApprove(approvers: Approvers | undefined, signer: Signer): boolean {
  if (!approvers) return true;
  return (approvers.roles?.includes(signer.role) ?? false) || (approvers.members?.includes(signer.actorId) ?? false);
}

/** The node's output: an object payload carries `approvedBy` as recorded by the server (a client-sent one is replaced). */
export function approvalOutput(payload: unknown, signer: Signer): unknown {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
  return { ...(payload as Record<string, unknown>), approvedBy: signer };
}

export const approvalNode = defineNode({
  type: 'approval',
  config: z.strictObject({
    message: z.string().max(2000).optional(),
    timeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3600_000)
      .optional(),
    approvers: ApproversSchema.optional(),
  }),
  async run(config) {
    return { status: 'waiting', forSignal: true, ...(config.timeoutMs ? { timeoutAt: Date.now() + config.timeoutMs } : {}) };
  },
});
