/**
 * How an email leaves: the Cloudflare Email Service `send_email` binding (`EMAIL`; locally wrangler
 * and Miniflare keep the message on disk and in the local explorer instead of sending it) or a
 * Resend-compatible HTTP API (`POST {EMAIL_HTTP_URL}/emails`, the delivery id as `Idempotency-Key`
 * so a retried attempt cannot make a second email). The result is data, never a throw, so the
 * caller records every attempt.
 */
import { EmailMessage } from 'cloudflare:email';
import type { Config } from '../config';
import type { RenderedEmail } from './render';

export const EMAIL_TIMEOUT_MS = 10_000;

export type SendResult =
  | { ok: true; providerMessageId: string | null; status: number | null }
  /** `permanent`: the provider refused this message or address; sending it again cannot help. */
  | { ok: false; status: number | null; retryAfter: string | null; error: string; permanent: boolean };

export async function sendEmail(env: Env, config: Config, email: RenderedEmail, idempotencyKey: string): Promise<SendResult> {
  switch (config.EMAIL_PROVIDER) {
    case 'none':
      return { ok: false, status: null, retryAfter: null, error: 'email is turned off (EMAIL_PROVIDER=none)', permanent: true };
    case 'http':
      return sendHttp(config, email, idempotencyKey);
    default:
      return sendBinding(env, email);
  }
}

async function sendBinding(env: Env, email: RenderedEmail): Promise<SendResult> {
  if (!env.EMAIL) return { ok: false, status: null, retryAfter: null, error: 'no EMAIL send_email binding', permanent: true };
  try {
    const res = await env.EMAIL.send(new EmailMessage(email.from.address, email.to, email.raw));
    return { ok: true, providerMessageId: res?.messageId ?? null, status: null };
  } catch (err) {
    return {
      ok: false,
      status: null,
      retryAfter: null,
      error: String(err instanceof Error ? err.message : err).slice(0, 500),
      permanent: false,
    };
  }
}

async function sendHttp(config: Config, email: RenderedEmail, idempotencyKey: string): Promise<SendResult> {
  if (!config.EMAIL_HTTP_API_KEY)
    return { ok: false, status: null, retryAfter: null, error: 'EMAIL_HTTP_API_KEY is not set', permanent: true };
  const body = {
    from: `${email.from.name} <${email.from.address}>`,
    to: [email.to],
    subject: email.subject,
    text: email.text,
    html: email.html,
    ...(email.replyTo ? { reply_to: email.replyTo } : {}),
    headers: { ...email.headers, 'Message-ID': email.messageId },
  };
  try {
    const res = await fetch(`${config.EMAIL_HTTP_URL.replace(/\/+$/, '')}/emails`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${config.EMAIL_HTTP_API_KEY}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
        'user-agent': 'Edgecrew-Email/1.0',
      },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal: AbortSignal.timeout(EMAIL_TIMEOUT_MS),
    });
    const text = (await res.text()).slice(0, 1024);
    if (res.ok) {
      let id: string | null = null;
      try {
        id = (JSON.parse(text) as { id?: unknown }).id as string;
      } catch {}
      return { ok: true, providerMessageId: typeof id === 'string' ? id : null, status: res.status };
    }
    // 422: the provider refused the message (invalid address, …); 400/401/403 are configuration errors worth retrying after a fix.
    return {
      ok: false,
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      error: text || res.statusText,
      permanent: res.status === 422,
    };
  } catch (err) {
    return {
      ok: false,
      status: null,
      retryAfter: null,
      error: String(err instanceof Error ? err.message : err).slice(0, 500),
      permanent: false,
    };
  }
}
