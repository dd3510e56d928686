/**
 * `describe` for suites that need something outside npm (a system package `.ci/run` installs):
 * with it they run; without it they fail under CI=true, where the package must be there, and are
 * skipped with a loud message elsewhere, so a developer's `npm test` still runs the rest.
 */
import { describe, it } from 'vitest';

export function describeRequiring(name: string, need: { available: boolean; why: string }, body: () => void): void {
  if (need.available) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it(`needs ${need.why}`, () => {
        throw new Error(`${need.why} is missing; CI must run "${name}".`);
      });
    });
    return;
  }
  process.stderr.write(`\n${'!'.repeat(100)}\n!! SKIPPING "${name}": ${need.why} is missing.\n${'!'.repeat(100)}\n\n`);
  describe.skip(name, body);
}
