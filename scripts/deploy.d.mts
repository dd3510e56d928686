/** A mistake in how the script was called: printed with the usage, exit code 2. */
export class UsageError extends Error {}
export interface DeployOptions {
  environment: 'staging' | 'production';
  dryRun: boolean;
  allowDirty: boolean;
  uploadOnly: boolean;
  wranglerArgs: string[];
}
/** This script's options, then wrangler's after `--`; throws a UsageError. */
export function parse(argv: string[]): DeployOptions;
/** The release to deploy (GIT_COMMIT, else HEAD); throws a UsageError for uncommitted or mismatched code. */
export function releaseFor(state: { gitCommit?: string; head: string | null; dirty: string | null; allowDirty: boolean }): string;
/** Which of SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT are set: all, none, or the missing names. */
export function sentryUploadConfig(env?: Record<string, string | undefined>): 'all' | 'none' | string[];
/** `map` with its sources named from the repository root (`/` between folders) and no `sourceRoot`. */
export function mapFromRoot<M extends { sources: Array<string | null>; sourceRoot?: string }>(
  map: M,
  bundleDir: string,
): Omit<M, 'sourceRoot'>;
/** Uploads `dir`'s index.js and index.js.map to Sentry as an artifact bundle of `release` (sentry-cli). */
export function uploadSourceMaps(options: { dir: string; release: string; env?: Record<string, string | undefined> }): Promise<void>;
/** The upload after a deploy; a failure says the Worker is deployed and how to `retry`. */
export function uploadDeployed(options: {
  dir: string;
  release: string;
  retry: string;
  env?: Record<string, string | undefined>;
}): Promise<void>;
/** The release a deploy recorded in `dir` (release.txt); a UsageError when there is none. */
export function deployedRelease(dir: string): string;
