/**
 * The MCP Tasks extension (experimental in SDK 1.32.2) over flow runs: a task is
 * a run (taskId = runId), and the store keeps nothing of its own: every read goes
 * to the run through the same verbs as GET /v1/runs/{id} (tenant check in D1,
 * state from the durable FlowRun), so a client that never saw the run's creation
 * (a new process after the first one died) polls it with tasks/get, and another
 * tenant's run is "not found". Status mapping: queued/running → working,
 * waiting → input_required, succeeded → completed, failed → failed,
 * cancelled → cancelled.
 */
import type { CreateTaskOptions, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks/interfaces.js';
import type { CallToolResult, Request, RequestId, Result, Task } from '@modelcontextprotocol/sdk/types.js';
import type { RunStatus, RunView } from '../flows/run-model';
import * as runsApi from '../flows/runs-api';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { runSummary } from './tools';

const POLL_INTERVAL_MS = 1000;

const STATUS: Record<RunStatus, Task['status']> = {
  queued: 'working',
  running: 'working',
  waiting: 'input_required',
  succeeded: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

export function taskOf(run: Pick<RunView, 'id' | 'status' | 'createdAt' | 'finishedAt' | 'startedAt'>, message?: string): Task {
  return {
    taskId: run.id,
    status: STATUS[run.status],
    // Kept for the plan's run retention (docs/flows.md), not a per-task TTL.
    ttl: null,
    createdAt: run.createdAt,
    lastUpdatedAt: run.finishedAt ?? run.startedAt ?? run.createdAt,
    pollInterval: POLL_INTERVAL_MS,
    ...(message !== undefined ? { statusMessage: message } : {}),
  };
}

/** The tool result a finished run's task answers with (what run_flow would have returned). */
export function resultOf(view: RunView): CallToolResult {
  const summary = runSummary(view);
  return {
    content: [{ type: 'text', text: JSON.stringify(summary) }],
    structuredContent: summary,
    ...(view.status === 'succeeded' ? {} : { isError: true }),
  };
}

/** Starts the run a task-augmented `run_flow` call asks for; returns the run's id. */
export type StartRun = (request: Request) => Promise<RunView>;

export class RunTaskStore implements TaskStore {
  constructor(
    private readonly ctx: ServiceCtx,
    private readonly start: StartRun,
  ) {}

  async #run(taskId: string): Promise<RunView | null> {
    try {
      return await runsApi.getRun(this.ctx, { id: taskId });
    } catch (err) {
      if (err instanceof AppError && (err.code === 'not_found' || err.code === 'gone')) return null;
      throw err;
    }
  }

  async createTask(_params: CreateTaskOptions, _requestId: RequestId, request: Request): Promise<Task> {
    const view = await this.start(request);
    return taskOf(view);
  }

  async getTask(taskId: string): Promise<Task | null> {
    const view = await this.#run(taskId);
    return view ? taskOf(view, runSummary(view).next) : null;
  }

  /** The run is the record: its outcome is already stored by the FlowRun. */
  async storeTaskResult(): Promise<void> {}

  async getTaskResult(taskId: string): Promise<Result> {
    const view = await this.#run(taskId);
    if (!view) throw new AppError('not_found', `Run ${taskId} not found.`);
    return resultOf(view);
  }

  /** Only cancellation changes a run from outside; other statuses follow the run itself. */
  async updateTaskStatus(taskId: string, status: Task['status'], statusMessage?: string): Promise<void> {
    if (status === 'cancelled') await runsApi.cancelRun(this.ctx, { id: taskId, reason: statusMessage });
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const page = await runsApi.listRuns(this.ctx, { limit: 50, cursor });
    return {
      tasks: page.data.map((r) =>
        taskOf({ id: r.id, status: r.status, createdAt: r.createdAt, startedAt: r.startedAt, finishedAt: r.finishedAt }),
      ),
      ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
    };
  }
}
