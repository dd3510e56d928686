/**
 * SSRF guard for every outbound URL a tenant chooses: webhook endpoints, flow
 * http nodes, LLM provider base URLs (docs/security.md). Pure: decides from the URL
 * alone. In staging/production only public https targets are allowed:
 * loopback, private (RFC 1918, RFC 4193), link-local, CGNAT, multicast,
 * unspecified and local host names are refused, also when written as IPv4 in
 * hex/decimal or as IPv4-mapped IPv6. Development and tests may target
 * 127.0.0.1 (the local receivers).
 */

export type TargetCheck = { ok: true } | { ok: false; reason: string };

const LOCAL_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;

/** Parses an IPv4 literal as WHATWG URL normalises it (always dotted quad after `new URL`). */
function ipv4(host: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  return parts.every((p) => p <= 255) ? parts : null;
}

function privateV4([a, b]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b! >= 64 && b! <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b! >= 16 && b! <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a! >= 224
  );
}

/** Expands an IPv6 literal (URL-normalised, so never with a dotted IPv4 tail) to 8 groups; null if not IPv6. */
function ipv6Groups(host: string): number[] | null {
  if (!host.includes(':') || !/^[0-9a-f:]+$/.test(host)) return null;
  const [head, rest, extra] = host.split('::');
  if (extra !== undefined) return null;
  const parse = (s: string | undefined) => (s === undefined || s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const a = parse(head);
  const b = parse(rest);
  const fill = 8 - a.length - b.length;
  if (fill < 0 || (rest === undefined && fill !== 0)) return null;
  const groups = [...a, ...Array<number>(fill).fill(0), ...b];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

function privateV6(g: number[]): boolean {
  const allZero = g.slice(0, 7).every((x) => x === 0);
  if (allZero && (g[7] === 0 || g[7] === 1)) return true; // :: and ::1
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return privateV4([g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255]);
  if ((g[0]! & 0xfe00) === 0xfc00) return true; // fc00::/7 unique local
  if ((g[0]! & 0xffc0) === 0xfe80) return true; // fe80::/10 link-local
  if ((g[0]! & 0xff00) === 0xff00) return true; // multicast
  return false;
}

/** True for loopback, private, link-local, CGNAT, multicast, unspecified and local host names (any notation `new URL` normalises). */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const v4 = ipv4(host);
  if (v4) return privateV4(v4);
  const v6 = ipv6Groups(host);
  if (v6) return privateV6(v6);
  return host.includes(':') || !host.includes('.') || LOCAL_NAMES.test(host);
}

/** Checks a webhook target. `deployed` = staging/production (config.ts `isDeployed`). */
export function checkTarget(raw: string, deployed: boolean): TargetCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'not a valid URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'credentials in the URL are not allowed' };
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: 'only http(s) URLs are allowed' };
  if (!deployed) return { ok: true };
  if (url.protocol !== 'https:') return { ok: false, reason: 'https is required' };
  if (isPrivateHost(url.hostname)) return { ok: false, reason: 'private, loopback, link-local or local host names are not allowed' };
  return { ok: true };
}
