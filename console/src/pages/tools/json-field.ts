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
