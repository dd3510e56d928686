/** Which of SENTRY_AUTH_TOKEN, SENTRY_ORG and SENTRY_PROJECT are set: all, none, or the missing names. */
export function sentryUploadConfig(env?: Record<string, string | undefined>): 'all' | 'none' | string[];
/** `map` with its sources named from the repository root (`/` between folders) and no `sourceRoot`. */
export function mapFromRoot<M extends { sources: string[]; sourceRoot?: string }>(map: M, bundleDir: string): Omit<M, 'sourceRoot'>;
/** Uploads `dir`'s index.js and index.js.map to Sentry as an artifact bundle of `release` (sentry-cli). */
export function uploadSourceMaps(options: { dir: string; release: string; env?: Record<string, string | undefined> }): Promise<void>;
