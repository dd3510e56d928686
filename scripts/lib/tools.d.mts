/** wrangler's CLI entry, as its package.json names it; run it with `process.execPath`. */
export function wranglerBin(): string;
/** `git <args>` in the repository root: its trimmed output, or null when git fails or is missing. */
export function git(...args: string[]): string | null;
