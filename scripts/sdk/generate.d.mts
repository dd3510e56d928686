/** Types of scripts/sdk/generate.mjs for the tests that import it. */
export const TYPES_FILE: string;
export function buildDocument(): Promise<Record<string, unknown>>;
export function typesFromDocument(document: unknown): Promise<string>;
