/** wrangler's CLI entry, as its package.json names it; run it with `process.execPath`. */
export function wranglerBin(): string;
/** `git <args>` in the repository root: its trimmed output, or null when git fails or is missing. */
export function git(...args: string[]): string | null;
/** Builds the Worker as deployed into `outdir` (wrangler deploy --dry-run); resolves with `<outdir>/index.js`. */
export function buildBundle(options: { outdir: string; minify?: boolean; timeoutMs?: number }): Promise<string>;
