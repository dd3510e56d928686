// Table-driven corpus for the quick-add parser: every field of every row is exact (confidence only ranged).
// Reference now: 2026-11-18T15:00:00Z, a Wednesday = 10:00 in New York, 16:00 in Berlin.
import { describe, expect, it } from 'vitest';
import { type ParsedQuickAdd, parseQuickAdd } from '../../../src/tasks/nlp';

const NY = 'America/New_York';
const BER = 'Europe/Berlin';
const NOW = '2026-11-18T15:00:00Z';
// 18:30 Wednesday in New York, already 00:30 Thursday in Berlin.
const LATE = '2026-11-18T23:30:00Z';

type Expected = Partial<Omit<ParsedQuickAdd, 'confidence'>>;
interface Row {
  text: string;
  tz?: string;
  now?: string;
  expect: Expected;
}

const on = (date: string, time: string | null = null) => ({ date, time });
const every = (rrule: string, from: 'due' | 'completion' = 'due') => ({ rrule, from });
const before = (iso: string) => ({ before: iso });
const at = (date: string, time: string) => ({ at: { date, time } });

const DEFAULTS: Omit<ParsedQuickAdd, 'confidence'> = {
  intent: 'create',
  title: '',
  due: null,
  recurrence: null,
  reminders: [],
  priority: null,
  labels: [],
};

const rows: Row[] = [
  // Dates and times
  { text: 'tomorrow 5pm', expect: { due: on('2026-11-19', '17:00') } },
  { text: 'call mom tomorrow 5pm', expect: { title: 'call mom', due: on('2026-11-19', '17:00') } },
  { text: 'call mom tomorrow at 5pm', tz: BER, expect: { title: 'call mom', due: on('2026-11-19', '17:00') } },
  { text: 'dentist on friday', expect: { title: 'dentist', due: on('2026-11-20') } },
  { text: 'in 2 hours', expect: { due: on('2026-11-18', '12:00') } },
  { text: 'in 2 hours', tz: BER, expect: { due: on('2026-11-18', '18:00') } },
  { text: 'next week', expect: { due: on('2026-11-23') } },
  { text: 'jan 10', expect: { due: on('2027-01-10') } },
  { text: 'at 9am', expect: { due: on('2026-11-19', '09:00') } },
  { text: 'tonight', expect: { due: on('2026-11-18', '20:00') } },
  { text: 'noon', expect: { due: on('2026-11-18', '12:00') } },
  { text: 'noon', tz: BER, expect: { due: on('2026-11-19', '12:00') } },
  { text: 'call Ana at 3pm', expect: { title: 'call Ana', due: on('2026-11-18', '15:00') } },
  { text: 'call Ana at 3pm', tz: BER, expect: { title: 'call Ana', due: on('2026-11-19', '15:00') } },
  {
    text: 'Submit expense report by Friday 5pm #work p2',
    expect: { title: 'Submit expense report', due: on('2026-11-20', '17:00'), priority: 2, labels: ['work'] },
  },
  { text: 'buy milk', expect: { title: 'buy milk' } },
  { text: '  call   Ana   tomorrow  ', expect: { title: 'call Ana', due: on('2026-11-19') } },
  { text: 'call Ana in 30 min', tz: BER, expect: { title: 'call Ana', due: on('2026-11-18', '16:30') } },
  { text: 'in 45 minutes check oven', expect: { title: 'check oven', due: on('2026-11-18', '10:45') } },
  { text: 'meeting tomorrow at noon', expect: { title: 'meeting', due: on('2026-11-19', '12:00') } },
  { text: 'call mom tonight at 9', expect: { title: 'call mom', due: on('2026-11-18', '21:00') } },
  { text: 'pick up kids at 3:30pm', expect: { title: 'pick up kids', due: on('2026-11-18', '15:30') } },
  { text: 'call Ana at 5 tomorrow', expect: { title: 'call Ana', due: on('2026-11-19', '17:00') } },
  { text: 'email Bob next friday', expect: { title: 'email Bob', due: on('2026-11-27') } },
  { text: 'lunch with Sam on sat at 1pm', expect: { title: 'lunch with Sam', due: on('2026-11-21', '13:00') } },
  { text: 'renew passport on 2027-03-01', expect: { title: 'renew passport', due: on('2027-03-01') } },
  { text: 'prepare slides by end of month', expect: { title: 'prepare slides', due: on('2026-11-30') } },
  { text: 'doctor 11/20 at 10am', expect: { title: 'doctor', due: on('2026-11-20', '10:00') } },
  { text: 'pay bills on the 5th', expect: { title: 'pay bills', due: on('2026-12-05') } },
  { text: 'call Ana the day after tomorrow', expect: { title: 'call Ana', due: on('2026-11-20') } },
  { text: 'write memo this afternoon', expect: { title: 'write memo', due: on('2026-11-18', '15:00') } },
  { text: 'friday morning standup', expect: { title: 'standup', due: on('2026-11-20', '09:00') } },
  { text: 'tomorrow evening', expect: { due: on('2026-11-19', '19:00') } },
  { text: 'dec 25 at 3pm', expect: { due: on('2026-12-25', '15:00') } },
  { text: 'book table for tomorrow', expect: { title: 'book table', due: on('2026-11-19') } },
  { text: 'report due friday', expect: { title: 'report', due: on('2026-11-20') } },
  { text: 'dentist checkup next month', expect: { title: 'dentist checkup', due: on('2026-12-01') } },
  { text: 'in 3 days', expect: { due: on('2026-11-21') } },
  { text: 'yoga on wednesday', expect: { title: 'yoga', due: on('2026-11-18') } },
  { text: 'yoga on wednesday', tz: BER, expect: { title: 'yoga', due: on('2026-11-18') } },
  { text: 'yoga wednesday at 9am', expect: { title: 'yoga', due: on('2026-11-25', '09:00') } },
  { text: 'buy milk may 3', expect: { title: 'buy milk', due: on('2027-05-03') } },
  { text: 'tomorrow', now: LATE, expect: { due: on('2026-11-19') } },
  { text: 'tomorrow', tz: BER, now: LATE, expect: { due: on('2026-11-20') } },
  { text: 'tonight', tz: BER, now: LATE, expect: { due: on('2026-11-19', '20:00') } },

  // Words that look like dates but belong to the title
  { text: 'call May', expect: { title: 'call May' } },
  { text: 'read March of the Penguins', expect: { title: 'read March of the Penguins' } },
  { text: 'buy sun cream', expect: { title: 'buy sun cream' } },
  { text: 'walk 30 minutes', expect: { title: 'walk 30 minutes' } },
  { text: 'watch The Day After Tomorrow', expect: { title: 'watch The Day After Tomorrow' } },
  { text: 'fix bug #123', expect: { title: 'fix bug #123' } },
  { text: 'p5 something', expect: { title: 'p5 something' } },
  { text: 'read every chapter', expect: { title: 'read every chapter' } },
  { text: 'turn the lights on', expect: { title: 'turn the lights on' } },

  // Recurrence
  {
    text: 'pay rent every 1st at 9am remind me 1 day before #home p1',
    expect: {
      title: 'pay rent',
      due: on('2026-12-01', '09:00'),
      recurrence: every('FREQ=MONTHLY;BYMONTHDAY=1'),
      reminders: [before('P1D')],
      priority: 1,
      labels: ['home'],
    },
  },
  { text: 'every other monday at 9am', expect: { due: on('2026-11-23', '09:00'), recurrence: every('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO') } },
  { text: 'every 2 weeks starting jan 10', expect: { due: on('2027-01-10'), recurrence: every('FREQ=WEEKLY;INTERVAL=2') } },
  { text: 'every 1st', expect: { due: on('2026-12-01'), recurrence: every('FREQ=MONTHLY;BYMONTHDAY=1') } },
  { text: 'every day', expect: { due: on('2026-11-18'), recurrence: every('FREQ=DAILY') } },
  { text: 'stretch daily', tz: BER, expect: { title: 'stretch', due: on('2026-11-18'), recurrence: every('FREQ=DAILY') } },
  { text: 'every weekday', expect: { due: on('2026-11-18'), recurrence: every('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR') } },
  { text: 'every 3rd of the month', expect: { due: on('2026-12-03'), recurrence: every('FREQ=MONTHLY;BYMONTHDAY=3') } },
  { text: 'every last friday', expect: { due: on('2026-11-27'), recurrence: every('FREQ=MONTHLY;BYDAY=-1FR') } },
  { text: 'every year on march 5', expect: { due: on('2027-03-05'), recurrence: every('FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5') } },
  { text: 'every march 5', expect: { due: on('2027-03-05'), recurrence: every('FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5') } },
  { text: 'every 3 days', expect: { due: on('2026-11-18'), recurrence: every('FREQ=DAILY;INTERVAL=3') } },
  { text: 'every monday and thursday', expect: { due: on('2026-11-19'), recurrence: every('FREQ=WEEKLY;BYDAY=MO,TH') } },
  { text: 'every month', expect: { due: on('2026-11-18'), recurrence: every('FREQ=MONTHLY') } },
  { text: 'every morning', expect: { due: on('2026-11-19', '09:00'), recurrence: every('FREQ=DAILY') } },
  { text: 'every evening', tz: BER, expect: { due: on('2026-11-18', '19:00'), recurrence: every('FREQ=DAILY') } },
  { text: 'every! 3 days', expect: { due: on('2026-11-18'), recurrence: every('FREQ=DAILY;INTERVAL=3', 'completion') } },
  {
    text: 'water plants every 3 days after done',
    expect: { title: 'water plants', due: on('2026-11-18'), recurrence: every('FREQ=DAILY;INTERVAL=3', 'completion') },
  },
  {
    text: 'clean gutters every 6 months after completion',
    expect: { title: 'clean gutters', due: on('2026-11-18'), recurrence: every('FREQ=MONTHLY;INTERVAL=6', 'completion') },
  },
  { text: 'backup every! week', expect: { title: 'backup', due: on('2026-11-18'), recurrence: every('FREQ=WEEKLY', 'completion') } },
  {
    text: 'team sync every weekday at 9:30am #work',
    expect: { title: 'team sync', due: on('2026-11-19', '09:30'), recurrence: every('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'), labels: ['work'] },
  },
  {
    text: 'gym every monday, wednesday and friday at 7am',
    expect: { title: 'gym', due: on('2026-11-20', '07:00'), recurrence: every('FREQ=WEEKLY;BYDAY=MO,WE,FR') },
  },
  {
    text: 'pay taxes every year on april 15 p1',
    expect: { title: 'pay taxes', due: on('2027-04-15'), recurrence: every('FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=15'), priority: 1 },
  },
  {
    text: 'review budget every last day of the month',
    expect: { title: 'review budget', due: on('2026-11-30'), recurrence: every('FREQ=MONTHLY;BYMONTHDAY=-1') },
  },
  {
    text: 'team lunch every 2nd tuesday',
    expect: { title: 'team lunch', due: on('2026-12-08'), recurrence: every('FREQ=MONTHLY;BYDAY=2TU') },
  },
  {
    text: 'change filter every 3 months starting next month',
    expect: { title: 'change filter', due: on('2026-12-01'), recurrence: every('FREQ=MONTHLY;INTERVAL=3') },
  },
  {
    text: 'plan week every sunday evening',
    expect: { title: 'plan week', due: on('2026-11-22', '19:00'), recurrence: every('FREQ=WEEKLY;BYDAY=SU') },
  },
  {
    text: 'take out trash every tuesday night',
    expect: { title: 'take out trash', due: on('2026-11-24', '20:00'), recurrence: every('FREQ=WEEKLY;BYDAY=TU') },
  },
  { text: 'meditate every day at 7:15', expect: { title: 'meditate', due: on('2026-11-19', '07:15'), recurrence: every('FREQ=DAILY') } },
  { text: 'file report monthly', expect: { title: 'file report', due: on('2026-11-18'), recurrence: every('FREQ=MONTHLY') } },
  { text: 'standup weekly on monday', expect: { title: 'standup', due: on('2026-11-23'), recurrence: every('FREQ=WEEKLY;BYDAY=MO') } },
  {
    text: 'call the bank every 1st and 15th',
    expect: { title: 'call the bank', due: on('2026-12-01'), recurrence: every('FREQ=MONTHLY;BYMONTHDAY=1,15') },
  },
  {
    text: 'pay rent every first of the month',
    expect: { title: 'pay rent', due: on('2026-12-01'), recurrence: every('FREQ=MONTHLY;BYMONTHDAY=1') },
  },
  {
    text: 'team retro every other friday at 3pm #work p2',
    expect: {
      title: 'team retro',
      due: on('2026-11-20', '15:00'),
      recurrence: every('FREQ=WEEKLY;INTERVAL=2;BYDAY=FR'),
      priority: 2,
      labels: ['work'],
    },
  },
  {
    text: 'every 2 weeks on monday and friday',
    expect: { due: on('2026-11-20'), recurrence: every('FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR') },
  },
  {
    text: 'clean house every weekend',
    expect: { title: 'clean house', due: on('2026-11-21'), recurrence: every('FREQ=WEEKLY;BYDAY=SA,SU') },
  },
  { text: 'every other day', expect: { due: on('2026-11-18'), recurrence: every('FREQ=DAILY;INTERVAL=2') } },
  { text: 'every wednesday at 9am', expect: { due: on('2026-11-25', '09:00'), recurrence: every('FREQ=WEEKLY;BYDAY=WE') } },
  { text: 'every wednesday at 5pm', tz: BER, expect: { due: on('2026-11-18', '17:00'), recurrence: every('FREQ=WEEKLY;BYDAY=WE') } },
  {
    text: 'every friday at 8am',
    tz: BER,
    now: LATE,
    expect: { due: on('2026-11-20', '08:00'), recurrence: every('FREQ=WEEKLY;BYDAY=FR') },
  },
  {
    text: 'stretch every day until dec 31',
    expect: { title: 'stretch', due: on('2026-11-18'), recurrence: every('FREQ=DAILY;UNTIL=20261231') },
  },
  {
    text: 'standup every weekday at 9am until dec 18',
    expect: {
      title: 'standup',
      due: on('2026-11-19', '09:00'),
      recurrence: every('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20261219T045959Z'),
    },
  },
  {
    text: 'gym every friday at 7pm until jan 29',
    tz: BER,
    expect: { title: 'gym', due: on('2026-11-20', '19:00'), recurrence: every('FREQ=WEEKLY;BYDAY=FR;UNTIL=20270129T225959Z') },
  },
  {
    text: 'physio every monday for 6 times',
    expect: { title: 'physio', due: on('2026-11-23'), recurrence: every('FREQ=WEEKLY;BYDAY=MO;COUNT=6') },
  },
  {
    text: 'call mom every day for 2 weeks',
    expect: { title: 'call mom', due: on('2026-11-18'), recurrence: every('FREQ=DAILY;UNTIL=20261201') },
  },
  {
    text: 'water lawn every week for 3 months',
    tz: BER,
    expect: { title: 'water lawn', due: on('2026-11-18'), recurrence: every('FREQ=WEEKLY;UNTIL=20270217') },
  },
  {
    text: 'sync every mon wed fri 8am',
    expect: { title: 'sync', due: on('2026-11-20', '08:00'), recurrence: every('FREQ=WEEKLY;BYDAY=MO,WE,FR') },
  },
  {
    text: 'service car every 2 years',
    expect: { title: 'service car', due: on('2026-11-18'), recurrence: every('FREQ=YEARLY;INTERVAL=2') },
  },

  // Reminders
  { text: 'remind me 30 min before', expect: { reminders: [before('PT30M')] } },
  { text: 'remind me 2 hours before', tz: BER, expect: { reminders: [before('PT2H')] } },
  {
    text: 'dentist jan 10 at 3pm remind me 1 hour before',
    expect: { title: 'dentist', due: on('2027-01-10', '15:00'), reminders: [before('PT1H')] },
  },
  {
    text: 'submit report friday remind me at 8am',
    expect: { title: 'submit report', due: on('2026-11-20'), reminders: [at('2026-11-20', '08:00')] },
  },
  {
    text: 'flight dec 20 at 7am remind me 1 day before and 2 hours before',
    expect: { title: 'flight', due: on('2026-12-20', '07:00'), reminders: [before('P1D'), before('PT2H')] },
  },
  {
    text: 'call Ana tomorrow at 4pm remind me 1 hour and 30 minutes before',
    expect: { title: 'call Ana', due: on('2026-11-19', '16:00'), reminders: [before('PT1H30M')] },
  },
  {
    text: 'renew visa on dec 1 remind me 2 weeks before',
    expect: { title: 'renew visa', due: on('2026-12-01'), reminders: [before('P2W')] },
  },
  {
    text: 'pay invoice friday remind me tomorrow at 9am',
    expect: { title: 'pay invoice', due: on('2026-11-20'), reminders: [at('2026-11-19', '09:00')] },
  },
  {
    text: 'submit timesheet every friday at 4pm remind me 30 minutes before',
    expect: {
      title: 'submit timesheet',
      due: on('2026-11-20', '16:00'),
      recurrence: every('FREQ=WEEKLY;BYDAY=FR'),
      reminders: [before('PT30M')],
    },
  },
  {
    text: 'standup every weekday at 10am with a reminder 10 min before',
    tz: BER,
    expect: {
      title: 'standup',
      due: on('2026-11-19', '10:00'),
      recurrence: every('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'),
      reminders: [before('PT10M')],
    },
  },

  // Intents
  { text: 'done with call Ana', expect: { intent: 'complete', title: 'call Ana' } },
  { text: 'complete tax form', expect: { intent: 'complete', title: 'tax form' } },
  { text: 'complete tax form by friday', expect: { intent: 'create', title: 'complete tax form', due: on('2026-11-20') } },
  { text: 'finish slides today', expect: { intent: 'create', title: 'finish slides', due: on('2026-11-18') } },
  { text: 'finish the report', expect: { title: 'finish the report' } },
  { text: 'finished report', expect: { intent: 'complete', title: 'report' } },
  { text: 'I finished the report', expect: { intent: 'complete', title: 'report' } },
  { text: 'mark call Ana as done', expect: { intent: 'complete', title: 'call Ana' } },
  { text: 'mark laundry done #home', expect: { intent: 'complete', title: 'laundry', labels: ['home'] } },
  { text: 'the laundry is done', expect: { intent: 'complete', title: 'laundry' } },
  { text: 'tick off buy milk', expect: { intent: 'complete', title: 'buy milk' } },
  { text: 'move dentist to friday', expect: { intent: 'reschedule', title: 'dentist', due: on('2026-11-20') } },
  { text: 'reschedule standup to tomorrow 10am', expect: { intent: 'reschedule', title: 'standup', due: on('2026-11-19', '10:00') } },
  { text: 'postpone dentist to next week', tz: BER, expect: { intent: 'reschedule', title: 'dentist', due: on('2026-11-23') } },
  { text: 'push gym to next monday', expect: { intent: 'reschedule', title: 'gym', due: on('2026-11-23') } },
  { text: 'move call to Ana to friday', expect: { intent: 'reschedule', title: 'call to Ana', due: on('2026-11-20') } },
  { text: 'move team sync to friday at 2pm', expect: { intent: 'reschedule', title: 'team sync', due: on('2026-11-20', '14:00') } },
  { text: 'postpone call with Ana until tomorrow', expect: { intent: 'reschedule', title: 'call with Ana', due: on('2026-11-19') } },
  { text: 'reschedule dentist', expect: { intent: 'reschedule', title: 'dentist' } },
  { text: 'move couch to garage', expect: { intent: 'create', title: 'move couch to garage' } },
  { text: 'delete dentist', expect: { intent: 'delete', title: 'dentist' } },
  { text: 'delete the dentist task', expect: { intent: 'delete', title: 'dentist' } },
  { text: 'remove old files', expect: { intent: 'delete', title: 'old files' } },
  { text: 'cancel gym', expect: { intent: 'delete', title: 'gym' } },
  { text: 'remove snow from driveway tomorrow', expect: { intent: 'create', title: 'remove snow from driveway', due: on('2026-11-19') } },
  // Destructive-looking phrases that are creations (issue 13 item 4): a date makes them new tasks.
  { text: 'cancel my gym membership by friday', expect: { intent: 'create', title: 'cancel my gym membership', due: on('2026-11-20') } },
  {
    text: 'cancel the newspaper subscription tomorrow',
    expect: { intent: 'create', title: 'cancel the newspaper subscription', due: on('2026-11-19') },
  },
  {
    text: 'delete old photos from the laptop on saturday',
    expect: { intent: 'create', title: 'delete old photos from the laptop', due: on('2026-11-21') },
  },
  { text: 'complete the tax form by monday', expect: { intent: 'create', title: 'complete the tax form', due: on('2026-11-23') } },
  { text: 'get rid of the old couch next week', expect: { intent: 'create', title: 'get rid of the old couch', due: on('2026-11-23') } },
  { text: 'move couch to garage', expect: { intent: 'create', title: 'move couch to garage' } },
  { text: "what's due today", expect: { intent: 'list', list: { range: 'today' } } },
  { text: 'show my tasks for tomorrow', expect: { intent: 'list', list: { range: 'tomorrow' } } },
  { text: 'list #work', expect: { intent: 'list', labels: ['work'], list: { label: 'work' } } },
  { text: 'what is overdue', tz: BER, expect: { intent: 'list', list: { range: 'overdue' } } },
  { text: "what's due this week", expect: { intent: 'list', list: { range: 'week' } } },
  { text: 'what do I have today?', expect: { intent: 'list', list: { range: 'today' } } },
  { text: 'show overdue tasks #home', expect: { intent: 'list', labels: ['home'], list: { range: 'overdue', label: 'home' } } },
  { text: 'list', expect: { intent: 'list', list: {} } },
  { text: 'show Ana the slides', expect: { title: 'show Ana the slides' } },
  { text: 'what should I cook', expect: { title: 'what should I cook' } },
  {
    text: 'remind me to call mom at 6pm',
    expect: { intent: 'remind', title: 'call mom', due: on('2026-11-18', '18:00'), reminders: [at('2026-11-18', '18:00')] },
  },
  {
    text: 'remind me to call mom at 6pm',
    tz: BER,
    expect: { intent: 'remind', title: 'call mom', due: on('2026-11-18', '18:00'), reminders: [at('2026-11-18', '18:00')] },
  },
  {
    text: 'remind me tomorrow at 8am to stretch',
    expect: { intent: 'remind', title: 'stretch', due: on('2026-11-19', '08:00'), reminders: [at('2026-11-19', '08:00')] },
  },
  {
    text: 'remind me to take pills every day at 8am',
    expect: {
      intent: 'remind',
      title: 'take pills',
      due: on('2026-11-19', '08:00'),
      recurrence: every('FREQ=DAILY'),
      reminders: [at('2026-11-19', '08:00')],
    },
  },
  {
    text: 'remind me about the dentist friday',
    expect: { intent: 'remind', title: 'dentist', due: on('2026-11-20'), reminders: [at('2026-11-20', '09:00')] },
  },
  {
    text: 'remind me in 20 minutes to check the oven',
    expect: { intent: 'remind', title: 'check the oven', due: on('2026-11-18', '10:20'), reminders: [at('2026-11-18', '10:20')] },
  },

  // Priority and labels
  { text: '!!1 fix prod bug', expect: { title: 'fix prod bug', priority: 1 } },
  { text: 'book flights #travel #Travel p3', expect: { title: 'book flights', priority: 3, labels: ['travel'] } },
  { text: 'P2 email landlord #home #errands', expect: { title: 'email landlord', priority: 2, labels: ['home', 'errands'] } },
];

describe('quick-add corpus', () => {
  it('has at least 90 phrases', () => {
    expect(rows.length).toBeGreaterThanOrEqual(90);
  });

  it.each(rows.map((r) => [`${r.text} [${r.tz === BER ? 'Berlin' : 'New York'}${r.now === LATE ? ', late' : ''}]`, r] as const))(
    '%s',
    (_, row) => {
      const { confidence, ...got } = parseQuickAdd(row.text, { timezone: row.tz ?? NY, now: new Date(row.now ?? NOW) });
      expect(got).toEqual({ ...DEFAULTS, ...row.expect });
      expect(confidence).toBeGreaterThanOrEqual(0);
      expect(confidence).toBeLessThanOrEqual(1);
    },
  );
});
