/** JSON typed into a textarea: parsed, or a field error at `path` the form shows under that textarea. */
import { ApiError } from '../../api/client';

export function parseJsonField(path: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError({
      status: 0,
      title: 'Check the form',
      detail: '',
      errors: [{ path, message: `Not valid JSON: ${err instanceof Error ? err.message : String(err)}` }],
    });
  }
}

/** The network field's text: empty or `none` is no network, else the comma-separated hosts the tool may reach. */
export function networkOf(text: string): 'none' | { allow: string[] } {
  const hosts = text
    .split(/[\s,]+/)
    .map((h) => h.trim())
    .filter(Boolean);
  return hosts.length === 0 || (hosts.length === 1 && hosts[0] === 'none') ? 'none' : { allow: hosts };
}

export function networkText(network: 'none' | { allow: string[] }): string {
  return network === 'none' ? '' : network.allow.join(', ');
}
