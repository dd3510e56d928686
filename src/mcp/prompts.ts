/**
 * MCP prompts: reusable starting points a client can offer its user (as slash commands, say), each
 * a message that steers the model to the outcome tools. They read no data themselves, so they need
 * no permission or scope beyond a valid credential; the tools they lead to check theirs.
 */
import type { GetPromptResult, ListPromptsResult, Prompt } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

interface PromptDef extends Prompt {
  render(args: Record<string, string>): string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export const PROMPTS: PromptDef[] = [
  {
    name: 'plan_day',
    title: 'Plan my day',
    description: 'Look at the open tasks due by a day (default today) and propose an order to do them in.',
    arguments: [{ name: 'date', description: 'The day to plan, YYYY-MM-DD (default: today)', required: false }],
    render: ({ date }) => {
      const day = date && DATE.test(date) ? date : 'today';
      return [
        `Plan my day for ${day}.`,
        `Call find_tasks with status "open" and dueTo ${day === 'today' ? "today's date" : day} (and again without a due range for undated high-priority tasks).`,
        'Propose an ordered plan with a short reason per task. Suggest moving what will not fit with reschedule_tasks, but ask me before changing anything.',
      ].join('\n');
    },
  },
  {
    name: 'capture_tasks',
    title: 'Capture tasks from notes',
    description: 'Turn free-form notes into tasks, in one batch.',
    arguments: [{ name: 'notes', description: 'The notes to turn into tasks', required: true }],
    render: ({ notes }) =>
      [
        'Turn these notes into tasks. Give each a short title, and a dueDate (YYYY-MM-DD) or labels when the notes say so.',
        'Show me the list first; once I agree, create them with a single add_tasks call with an idempotencyKey, so a retry does not duplicate them.',
        '',
        'Notes:',
        notes ?? '',
      ].join('\n'),
  },
];

export function listPrompts(): ListPromptsResult {
  return { prompts: PROMPTS.map(({ render: _render, ...prompt }) => prompt) };
}

export function getPrompt(name: string, args: Record<string, string> | undefined): GetPromptResult {
  const prompt = PROMPTS.find((p) => p.name === name);
  if (!prompt) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${name}`);
  const missing = (prompt.arguments ?? []).filter((a) => a.required && !args?.[a.name]);
  if (missing.length > 0) throw new McpError(ErrorCode.InvalidParams, `Missing argument(s): ${missing.map((a) => a.name).join(', ')}`);
  return {
    description: prompt.description,
    messages: [{ role: 'user', content: { type: 'text', text: prompt.render(args ?? {}) } }],
  };
}
