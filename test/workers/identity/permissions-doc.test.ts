// docs/security.md shows the permission matrix; this keeps it equal to the code.
import { describe, expect, it } from 'vitest';
import securityDoc from '../../../docs/security.md?raw';
import { MATRIX, PERMISSIONS, ROLES } from '../../../src/identity/roles';

function parseDocMatrix(md: string): Record<string, Record<string, boolean>> {
  const block = md.split('<!-- permissions-matrix:start -->')[1]?.split('<!-- permissions-matrix:end -->')[0] ?? '';
  const rows = block
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('|'));
  const header = rows[0]!
    .split('|')
    .map((s) => s.trim())
    .filter(Boolean);
  const out: Record<string, Record<string, boolean>> = {};
  for (const line of rows.slice(2)) {
    const cells = line
      .split('|')
      .map((s) => s.trim())
      .filter(Boolean);
    const perm = cells[0]!;
    out[perm] = {};
    header.slice(1).forEach((role, i) => {
      out[perm]![role] = cells[i + 1] === 'yes';
    });
  }
  return out;
}

describe('permission matrix documentation', () => {
  it('docs/security.md lists exactly the permissions and grants in src/identity/roles.ts', () => {
    const doc = parseDocMatrix(securityDoc);
    expect(Object.keys(doc).sort()).toEqual([...PERMISSIONS].sort());
    for (const perm of PERMISSIONS) {
      for (const role of ROLES) {
        expect({ perm, role, granted: doc[perm]?.[role] }).toEqual({ perm, role, granted: MATRIX[role].has(perm) });
      }
    }
  });
});
