// docs/mcp.md's tool table is the tools as the code defines them: names, permissions, OAuth scopes and annotations.
import { describe, expect, it } from 'vitest';
import mcpDoc from '../../docs/mcp.md?raw';
import { toolDescriptors } from '../../src/mcp/server';
import { TOOLS } from '../../src/mcp/tools';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

/** The rows of the table that follows the "checked against src/mcp/tools.ts" marker (other tables on the page are not tools). */
function documentedRows(): string[][] {
  const marker = mcpDoc.indexOf('<!-- The table below is checked against src/mcp/tools.ts');
  expect(marker).toBeGreaterThan(0);
  const table = mcpDoc.slice(marker).split('\n\n')[1] ?? '';
  return table
    .split('\n')
    .filter((line) => /^\| `\w+`/.test(line))
    .map((line) =>
      line
        .split('|')
        .slice(1, 7)
        .map((cell) => cell.trim().replace(/`/g, '')),
    );
}

describe('docs/mcp.md', () => {
  it('lists every MCP tool with its permission, OAuth scope and annotations, and nothing else', () => {
    const fromCode = TOOLS.map((t) => [
      t.name,
      t.permission,
      t.scope,
      yesNo(t.annotations.readOnlyHint),
      yesNo(t.annotations.destructiveHint),
      yesNo(t.annotations.idempotentHint),
    ]);
    expect(documentedRows()).toEqual(fromCode);
  });

  it('publishes every tool input as a JSON Schema 2020-12 object', () => {
    const tools = toolDescriptors();
    expect(tools).toHaveLength(TOOLS.length);
    for (const t of tools) {
      expect(t.inputSchema).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object' });
      expect(t.annotations?.title).toBe(t.title);
    }
  });
});
