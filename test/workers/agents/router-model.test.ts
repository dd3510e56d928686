// The deterministic router (src/agents/router-model.ts): one decision per step, from the conversation alone.
import { describe, expect, it } from 'vitest';
import { type AgentMessage, BUILTIN_INPUTS, BUILTIN_TOOLS, type ToolCall } from '../../../src/agents/contract';
import { clockLine, clockOf, optionOf, route, routerModel } from '../../../src/agents/router-model';

const NOW = new Date('2026-11-18T15:00:00Z'); // a Wednesday
const BER = 'Europe/Berlin';
const ALL = new Set<string>(BUILTIN_TOOLS);
const system: AgentMessage = { role: 'system', content: `You manage tasks. ${clockLine(NOW, BER)}` };

/** A conversation: the system line, the user's text, then each step's calls and their JSON answers. */
function convo(text: string, ...steps: Array<Array<[ToolCall, unknown]>>): AgentMessage[] {
  const out: AgentMessage[] = [system, { role: 'user', content: text }];
  for (const step of steps) {
    out.push({ role: 'assistant', content: '', toolCalls: step.map(([c]) => c) });
    for (const [c, answer] of step) out.push({ role: 'tool', toolCallId: c.id, content: JSON.stringify(answer) });
  }
  return out;
}

/** Decides, and checks every call's input against the built-in's own schema. */
function decide(messages: AgentMessage[], offered = ALL) {
  const d = route(messages, offered, new Date('2000-01-01T00:00:00Z'));
  for (const c of d.toolCalls) {
    const schema = BUILTIN_INPUTS[c.name as keyof typeof BUILTIN_INPUTS];
    expect(schema.safeParse(c.input).success, `${c.name} ${JSON.stringify(c.input)}`).toBe(true);
  }
  return d;
}

const task = (id: string, title: string, extra: Record<string, unknown> = {}) => ({
  id,
  title,
  status: 'open',
  dueDate: null,
  dueAt: null,
  ...extra,
});

describe('router: the clock', () => {
  it('reads the time and zone from the system line, and falls back to UTC', () => {
    expect(clockOf([system], new Date(0))).toEqual({ now: NOW, timezone: BER });
    expect(clockOf([{ role: 'system', content: 'no clock here' }], new Date(0))).toEqual({ now: new Date(0), timezone: 'UTC' });
    expect(clockOf([{ role: 'system', content: clockLine(NOW, 'Mars/Olympus') }], new Date(0)).timezone).toBe('UTC');
  });
});

describe('router: create and remind', () => {
  it('creates the task with its due time in the stated zone, then says so', () => {
    const first = decide(convo('buy milk tomorrow at 5pm #home p2'));
    expect(first.text).toBe('');
    expect(first.toolCalls).toEqual([
      {
        id: 'rt1_0_createTask',
        name: 'createTask',
        input: { title: 'buy milk', timezone: BER, dueAt: '2026-11-19T16:00:00.000Z', priority: 2, labels: ['home'] },
      },
    ]);
    const second = decide(convo('buy milk tomorrow at 5pm #home p2', [[first.toolCalls[0]!, task('tsk_1', 'buy milk')]]));
    expect(second).toEqual({ text: 'Created “buy milk” (due 2026-11-19 17:00).', toolCalls: [] });
  });

  it('a reminder is a setReminder call on the created task (3pm has passed in Berlin: tomorrow)', () => {
    const first = decide(convo('remind me to call Ana at 3pm'));
    expect(first.toolCalls[0]!.name).toBe('createTask');
    const second = decide(convo('remind me to call Ana at 3pm', [[first.toolCalls[0]!, task('tsk_9', 'call Ana')]]));
    expect(second.toolCalls).toEqual([
      { id: 'rt1_1_setReminder', name: 'setReminder', input: { taskId: 'tsk_9', at: '2026-11-19T14:00:00.000Z' } },
    ]);
    const third = decide(
      convo('remind me to call Ana at 3pm', [[first.toolCalls[0]!, task('tsk_9', 'call Ana')]], [[second.toolCalls[0]!, { ok: true }]]),
    );
    expect(third.text).toBe('Created “call Ana” (due 2026-11-19 15:00), with a reminder.');
  });

  it('answers a greeting with help instead of creating a task called "hi"', () => {
    expect(decide(convo('hi')).toolCalls).toEqual([]);
    expect(decide(convo('hi')).text).toMatch(/I can manage your tasks/);
  });
});

describe('router: acting on one task', () => {
  it('looks the target up, then completes the single match', () => {
    const look = decide(convo('done with dentist'));
    expect(look.toolCalls).toEqual([{ id: 'rt1_0_listTasks', name: 'listTasks', input: { status: 'open', q: 'dentist', limit: 100 } }]);
    const act = decide(convo('done with dentist', [[look.toolCalls[0]!, { data: [task('tsk_d', 'Dentist')] }]]));
    expect(act.toolCalls).toEqual([{ id: 'rt1_1_completeTask', name: 'completeTask', input: { taskId: 'tsk_d' } }]);
    const said = decide(
      convo(
        'done with dentist',
        [[look.toolCalls[0]!, { data: [task('tsk_d', 'Dentist')] }]],
        [[act.toolCalls[0]!, task('tsk_d', 'Dentist')]],
      ),
    );
    expect(said.text).toBe('Completed “Dentist”.');
  });

  it('asks with the candidates when several match, then acts on the chosen one', () => {
    const tasks = [task('tsk_a', 'dentist', { dueDate: '2026-11-20' }), task('tsk_b', 'dentist', { dueDate: '2026-11-27' })];
    const look = decide(convo('move dentist to friday'));
    const ask = decide(convo('move dentist to friday', [[look.toolCalls[0]!, tasks]]));
    expect(ask.toolCalls[0]).toEqual({
      id: 'rt1_1_askUser',
      name: 'askUser',
      input: {
        question: 'Which “dentist” do you mean?',
        options: ['dentist (due 2026-11-20) [tsk_a]', 'dentist (due 2026-11-27) [tsk_b]'],
      },
    });
    for (const answer of ['dentist (due 2026-11-27) [tsk_b]', 'tsk_b', '2', 'the second one', { answer: 'tsk_b' }]) {
      const act = decide(convo('move dentist to friday', [[look.toolCalls[0]!, tasks]], [[ask.toolCalls[0]!, answer]]));
      expect(act.toolCalls, JSON.stringify(answer)).toEqual([
        {
          id: 'rt1_2_rescheduleTask',
          name: 'rescheduleTask',
          input: { taskId: 'tsk_b', dueDate: '2026-11-20', dueAt: null, timezone: BER },
        },
      ]);
    }
    const unclear = decide(convo('move dentist to friday', [[look.toolCalls[0]!, tasks]], [[ask.toolCalls[0]!, 'the blue one']]));
    expect(unclear).toEqual({ text: "I couldn't tell which task you meant, so I changed nothing.", toolCalls: [] });
  });

  it('an exact title wins over titles that merely contain it', () => {
    const look = decide(convo('delete report'));
    const act = decide(convo('delete report', [[look.toolCalls[0]!, [task('tsk_1', 'report'), task('tsk_2', 'report draft')]]]));
    expect(act.toolCalls).toEqual([{ id: 'rt1_1_deleteTask', name: 'deleteTask', input: { taskId: 'tsk_1' } }]);
  });

  it('says so when nothing matches, when an action is denied and when a tool fails', () => {
    const look = decide(convo('done with taxes'));
    expect(decide(convo('done with taxes', [[look.toolCalls[0]!, []]])).text).toBe('I found no open task like “taxes”.');
    const del = { id: 'rt1_1_deleteTask', name: 'deleteTask', input: { taskId: 'tsk_1' } };
    expect(
      decide(convo('delete report', [[look.toolCalls[0]!, [task('tsk_1', 'report')]]], [[del, { denied: { reason: 'no' } }]])).text,
    ).toBe('OK, I did not delete it.');
    expect(decide(convo('delete report', [[del, { error: { kind: 'forbidden', message: 'Viewers cannot change tasks.' } }]])).text).toBe(
      'That did not work: Viewers cannot change tasks.',
    );
  });

  it('asks for a date when a reschedule names none', () => {
    expect(decide(convo('postpone dentist')).text).toBe('When should I move “dentist” to? E.g. "move dentist to friday".');
  });
});

describe('router: listing', () => {
  it('lists this week in the stated zone', () => {
    const look = decide(convo('what is due this week?'));
    expect(look.toolCalls[0]!.input).toEqual({ status: 'open', dueFrom: '2026-11-18', dueTo: '2026-11-24', limit: 50 });
    const said = decide(
      convo('what is due this week?', [[look.toolCalls[0]!, [task('tsk_1', 'pay rent', { dueAt: '2026-11-19T08:00:00Z' })]]]),
    );
    expect(said.text).toBe('One open task:\n- pay rent (due 2026-11-19 09:00)');
  });
});

describe('router: as a ModelDriver', () => {
  it('streams its text and never calls a tool it was not offered', async () => {
    const deltas: string[] = [];
    const reply = await routerModel(() => NOW).next({
      messages: convo('buy milk'),
      tools: [{ name: 'listTasks', description: '', inputSchema: {} }],
      signal: new AbortController().signal,
      onDelta: (t) => deltas.push(t),
    });
    expect(reply.toolCalls).toEqual([]);
    expect(reply.text).toMatch(/not available/);
    expect(deltas.join('')).toBe(reply.text);
    expect(reply).toMatchObject({ provider: 'router', model: 'quick-add', usage: { costUsd: 0 } });
    expect(optionOf(task('tsk_x', 'a'), 'UTC')).toBe('a [tsk_x]');
  });
});
