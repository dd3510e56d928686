/** The contract of one backstop sweep job; each domain owns its jobs, and src/cron/sweeper.ts lists them. */
export interface SweepJob {
  name: string;
  run(env: Env, now: Date): Promise<Record<string, number>>;
}
