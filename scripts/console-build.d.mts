export const CONSOLE_DIST: string;
export function consoleInputsHash(): string;
export function consoleStale(): boolean;
export function ensureConsoleBuilt(options?: { force?: boolean; quiet?: boolean; log?: (message: string) => void }): Promise<boolean>;
