/**
 * The hub's follow-up scheduler (durable-objects/tenant-hub/follow-up.ts, issue 20): requests in one turn
 * share a run, a run never overlaps another, requests during a run share one more, and runs start at
 * least the interval apart. No assertion here bounds how late a timer may fire, only how early.
 */
import { describe, expect, it } from 'vitest';
import { FollowUp } from '../../../durable-objects/tenant-hub/follow-up';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A follow-up whose runs are recorded and each held open until released. */
function recorded(intervalMs: number, { hold = false } = {}) {
  const starts: number[] = [];
  let running = 0;
  let overlapped = false;
  const releases: (() => void)[] = [];
  const followUp = new FollowUp(async () => {
    starts.push(Date.now());
    if (++running > 1) overlapped = true;
    if (hold) await new Promise<void>((resolve) => releases.push(resolve));
    running--;
  }, intervalMs);
  return { followUp, starts, releases, overlapped: () => overlapped };
}

describe('FollowUp', () => {
  it('requests in one turn share one run, which starts after the current call returns', async () => {
    const { followUp, starts } = recorded(50);
    for (let i = 0; i < 5; i++) followUp.request();
    expect(starts).toHaveLength(0);
    await until(() => starts.length === 1, 'the first run');
    await sleep(150);
    expect(starts).toHaveLength(1);
  });

  it('a request answers once a run that started after it has finished, not the run already going', async () => {
    const { followUp, starts, releases } = recorded(0, { hold: true });
    let firstDone = false;
    void followUp.request().then(() => (firstDone = true));
    await until(() => starts.length === 1, 'the first run');
    let laterDone = false;
    void followUp.request().then(() => (laterDone = true));
    releases.shift()!();
    await until(() => firstDone, 'the first request answered');
    // The later request came while the first run was going: it waits for the second run.
    await until(() => starts.length === 2, 'the second run');
    expect(laterDone).toBe(false);
    releases.shift()!();
    await until(() => laterDone, 'the later request answered');
  });

  it('requests during a run share one more run, which starts only after the first ends', async () => {
    const { followUp, starts, releases, overlapped } = recorded(0, { hold: true });
    followUp.request();
    await until(() => starts.length === 1, 'the first run');
    followUp.request();
    followUp.request();
    followUp.request();
    await sleep(100);
    // Still held: nothing starts beside it.
    expect(starts).toHaveLength(1);
    releases.shift()!();
    await until(() => starts.length === 2, 'the second run');
    releases.shift()!();
    await sleep(100);
    expect(starts).toHaveLength(2);
    expect(overlapped()).toBe(false);
  });

  it('a run starts no sooner than the interval after the one before', async () => {
    const interval = 150;
    const { followUp, starts } = recorded(interval);
    followUp.request();
    await until(() => starts.length === 1, 'the first run');
    // The first run is over at once; the next request still waits out the interval.
    followUp.request();
    await until(() => starts.length === 2, 'the second run');
    expect(starts[1]! - starts[0]!).toBeGreaterThanOrEqual(interval);
  });

  it('the first request after a quiet spell runs at once; one within the interval waits for it', async () => {
    // An hour's interval: the second request cannot run while the test looks.
    const { followUp, starts } = recorded(3_600_000);
    followUp.request();
    await until(() => starts.length === 1, 'the first run');
    followUp.request();
    await sleep(200);
    expect(starts).toHaveLength(1);
  });

  it('a run that rejects or throws does not stop the next', async () => {
    const failures = {
      rejects: async () => {
        throw new Error('publish failed');
      },
      throws: () => {
        throw new Error('thrown before any promise');
      },
    };
    for (const [how, fail] of Object.entries(failures)) {
      let runs = 0;
      const followUp = new FollowUp(() => {
        runs++;
        return fail();
      }, 0);
      followUp.request();
      await until(() => runs === 1, `the run that ${how}`);
      followUp.request();
      await until(() => runs === 2, `the run after the one that ${how}`);
    }
  });
});
