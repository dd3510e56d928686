/**
 * Builds an email (plain text + HTML, RFC 5322 MIME through `mimetext`) from what a delivery shows.
 * Pure: the links and the clock are passed in. Dates are written in the recipient's time zone and
 * locale (docs/notifications.md).
 */

/**
 * mimetext, loaded on the first email an isolate renders rather than at start-up: it brings Babel's
 * core-js runtime, whose polyfills took 20–30 ms of the Worker's 112–137 ms global scope
 * (docs/performance.md, "Build"), and most isolates never render an email.
 */
let mimetext: Promise<typeof import('mimetext/browser')> | undefined;

/** What a delivery shows, fixed when it is created (`email_deliveries.payload`). */
export interface MessagePayload {
  kind: 'reminder' | 'system' | 'verification' | 'digest';
  title: string;
  body: string;
  taskId: string | null;
  /** The task's due instant (ISO) or all-day date (YYYY-MM-DD), when it has one. */
  dueAt: string | null;
  dueDate: string | null;
  timeZone: string;
  locale: string;
  /** Digest only: the notifications it groups. */
  items?: Array<{ title: string; body: string }>;
  /** Verification only: the link to open. */
  link?: string;
}

export interface Sender {
  address: string;
  name: string;
}

export interface Links {
  /** One-click unsubscribe (RFC 8058); absent for mail that is not a subscription (verification). */
  unsubscribe?: string;
  /** Reply-To address whose replies act on the task (reminders only). */
  replyTo?: string;
}

export interface RenderedEmail {
  from: Sender;
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Extra headers (List-Unsubscribe, List-Unsubscribe-Post, Auto-Submitted, …), also sent by the HTTP provider. */
  headers: Record<string, string>;
  replyTo: string | null;
  messageId: string;
  /** The whole message as MIME (for the send_email binding). */
  raw: string;
}

/** "Friday, December 4, 2026 at 9:00 AM" in `timeZone` and `locale` (falls back to en for an unknown locale). */
export function formatDue(p: Pick<MessagePayload, 'dueAt' | 'dueDate' | 'timeZone' | 'locale'>): string | null {
  const locale = safeLocale(p.locale);
  if (p.dueAt) {
    const when = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'short', timeZone: p.timeZone }).format(new Date(p.dueAt));
    return `${when} (${p.timeZone})`;
  }
  if (p.dueDate) {
    return new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeZone: 'UTC' }).format(new Date(`${p.dueDate}T12:00:00Z`));
  }
  return null;
}

function safeLocale(locale: string): string {
  try {
    return Intl.DateTimeFormat.supportedLocalesOf([locale]).length > 0 ? locale : 'en';
  } catch {
    return 'en';
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Base64 of UTF-8 text in 76-character lines (RFC 2045). */
function base64Lines(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return (btoa(bin).match(/.{1,76}/g) ?? []).join('\r\n');
}

function content(p: MessagePayload): { subject: string; lines: string[]; action: string | null } {
  const due = formatDue(p);
  switch (p.kind) {
    case 'reminder':
      return {
        subject: `Reminder: ${p.title}`,
        lines: [p.title, due ? `Due ${due}` : p.body],
        action: 'Reply "done" to complete this task, or "snooze 1h" to be reminded again in an hour.',
      };
    case 'system':
      return { subject: p.title, lines: [p.title, p.body], action: null };
    case 'digest':
      return {
        subject: `Your daily digest: ${p.items?.length ?? 0} notification${p.items?.length === 1 ? '' : 's'}`,
        lines: (p.items ?? []).map((i) => `• ${i.title}: ${i.body}`),
        action: null,
      };
    case 'verification':
      return {
        subject: 'Confirm your email address',
        lines: [`Open this link to confirm ${p.title} for your Edgecrew account:`, p.link ?? '', 'It works once and expires in 24 hours.'],
        action: null,
      };
  }
}

/** The message for `to`, with `messageId` `<id@sender's domain>`. */
export async function renderEmail(
  p: MessagePayload,
  o: { id: string; from: Sender; to: string; links: Links; now: Date },
): Promise<RenderedEmail> {
  mimetext ??= import('mimetext/browser');
  const { createMimeMessage, Mailbox } = await mimetext;
  const { subject, lines, action } = content(p);
  const footer: string[] = [];
  if (o.links.unsubscribe) footer.push(`Unsubscribe from these emails: ${o.links.unsubscribe}`);
  const text = [...lines, '', ...(action ? [action, ''] : []), ...footer].join('\n');
  const html = [
    '<!doctype html><html><body>',
    ...lines.map((l) => `<p>${escapeHtml(l)}</p>`),
    action ? `<p><em>${escapeHtml(action)}</em></p>` : '',
    o.links.unsubscribe ? `<p style="font-size:12px"><a href="${escapeHtml(o.links.unsubscribe)}">Unsubscribe</a></p>` : '',
    '</body></html>',
  ].join('\n');
  const domain = o.from.address.slice(o.from.address.indexOf('@') + 1);
  const messageId = `<${o.id}@${domain}>`;
  const headers: Record<string, string> = { 'Auto-Submitted': 'auto-generated' };
  if (o.links.unsubscribe) {
    headers['List-Unsubscribe'] = `<${o.links.unsubscribe}>`;
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }

  const msg = createMimeMessage();
  msg.setSender({ name: o.from.name, addr: o.from.address });
  msg.setRecipient(o.to);
  msg.setSubject(subject);
  msg.setHeader('Message-ID', messageId);
  msg.setHeader('Date', o.now.toUTCString().replace(/GMT|UTC/i, '+0000'));
  if (o.links.replyTo) msg.setHeader('Reply-To', new Mailbox(o.links.replyTo, { type: 'To' }));
  for (const [k, v] of Object.entries(headers)) msg.setHeader(k, v);
  msg.addMessage({ contentType: 'text/plain', encoding: 'base64', data: base64Lines(text) });
  msg.addMessage({ contentType: 'text/html', encoding: 'base64', data: base64Lines(html) });
  return { from: o.from, to: o.to, subject, text, html, headers, replyTo: o.links.replyTo ?? null, messageId, raw: msg.asRaw() };
}
