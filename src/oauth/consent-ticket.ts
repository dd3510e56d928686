/**
 * The consent page's state between its steps (sign in, pick the tenant and scopes), carried in the
 * form as a signed ticket: HMAC-SHA-256 under the Worker's TOKEN_PEPPER (domain-separated), bound to
 * the library's consent handle, valid ten minutes. What the page shows about the client is sealed at
 * the first step, so a form cannot change it, and the signed-in user is sealed at the second, so the
 * last step never trusts a user id from the form. The handle itself is bound to the browser by the
 * library's `__Host-` cookie and works once (approveConsent/denyConsent): that is the CSRF guard.
 */
import { z } from 'zod';
import { fromB64, toB64Url } from '../identity/encoding';
import { ROLES } from '../identity/roles';
import { hashSecret, timingSafeEqual } from '../identity/secrets';

export const TICKET_TTL_MS = 10 * 60 * 1000;

const TicketSchema = z.object({
  handle: z.string().min(1),
  exp: z.number().int(),
  client: z.object({
    id: z.string(),
    name: z.string(),
    domain: z.string().optional(),
    redirectHost: z.string(),
    loopback: z.boolean(),
  }),
  requested: z.array(z.string()),
  /** Set once the user signed in. */
  user: z
    .object({
      id: z.string(),
      email: z.string(),
      tenants: z.array(z.object({ id: z.string(), name: z.string(), role: z.enum(ROLES) })),
    })
    .optional(),
});
export type ConsentTicket = z.infer<typeof TicketSchema>;

const encoder = new TextEncoder();
const sign = (pepper: string, body: string) => hashSecret(`oauth-consent-ticket:${body}`, pepper);

export async function sealTicket(pepper: string, ticket: ConsentTicket): Promise<string> {
  const body = toB64Url(encoder.encode(JSON.stringify(ticket)));
  return `${body}.${await sign(pepper, body)}`;
}

/** The ticket, or null when it is malformed, forged or expired. */
export async function openTicket(pepper: string, value: string, now: number): Promise<ConsentTicket | null> {
  const [body, mac, extra] = value.split('.');
  if (!body || !mac || extra !== undefined) return null;
  if (!timingSafeEqual(encoder.encode(await sign(pepper, body)), encoder.encode(mac))) return null;
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(fromB64(body)));
  } catch {
    return null;
  }
  const parsed = TicketSchema.safeParse(json);
  return parsed.success && parsed.data.exp > now ? parsed.data : null;
}
