/**
 * A task's recurrence in words: the RRULE subset the API accepts (docs/tasks.md "Recurrence":
 * DAILY/WEEKLY/MONTHLY/YEARLY, INTERVAL, BYDAY incl. ordinals, BYMONTHDAY, BYMONTH, BYSETPOS,
 * COUNT, UNTIL) and whether it counts from the due or from completion. Unknown parts are shown raw
 * rather than guessed.
 */

const DAYS: Record<string, string> = {
  MO: 'Monday',
  TU: 'Tuesday',
  WE: 'Wednesday',
  TH: 'Thursday',
  FR: 'Friday',
  SA: 'Saturday',
  SU: 'Sunday',
};
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const UNITS: Record<string, [string, string]> = {
  DAILY: ['day', 'days'],
  WEEKLY: ['week', 'weeks'],
  MONTHLY: ['month', 'months'],
  YEARLY: ['year', 'years'],
};

/** 1 → "1st", 22 → "22nd", -1 → "last", -2 → "second to last". */
export function ordinal(n: number): string {
  if (n === -1) return 'last';
  if (n === -2) return 'second to last';
  if (n < 0) return `${ordinal(-n)} to last`;
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${s}`;
}

function list(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function byDay(value: string): { text: string; weekdays: boolean } {
  const parts = value.split(',').map((p) => {
    const m = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/.exec(p.trim());
    if (!m) return p;
    const day = DAYS[m[2]!]!;
    return m[1] ? `${ordinal(Number(m[1]))} ${day}` : day;
  });
  const plain = value.split(',').sort().join(',');
  return { text: list(parts), weekdays: plain === 'FR,MO,TH,TU,WE' };
}

/** `FREQ=WEEKLY;INTERVAL=2;BYDAY=MO` → "Every other week on Monday". */
export function rruleToText(rrule: string, from: 'due' | 'completion' = 'due'): string {
  const rule = new Map<string, string>();
  for (const part of rrule.replace(/^RRULE:/i, '').split(';')) {
    const [k, v] = part.split('=');
    if (k && v !== undefined) rule.set(k.toUpperCase(), v.toUpperCase());
  }
  const freq = rule.get('FREQ') ?? '';
  const unit = UNITS[freq];
  if (!unit) return rrule;
  const interval = Number(rule.get('INTERVAL') ?? '1') || 1;
  const bd = rule.get('BYDAY');
  const days = bd ? byDay(bd) : null;
  const monthDays = rule
    .get('BYMONTHDAY')
    ?.split(',')
    .map((d) => (Number(d) < 0 ? `the ${ordinal(Number(d))} day` : `the ${ordinal(Number(d))}`));
  const months = rule
    .get('BYMONTH')
    ?.split(',')
    .map((m) => MONTHS[Number(m) - 1] ?? m);
  const setPos = rule.get('BYSETPOS');

  let text: string;
  if (freq === 'DAILY' && interval === 1 && !days) text = 'Every day';
  else if (freq === 'WEEKLY' && interval === 1 && days?.weekdays) text = 'Every weekday';
  else if (interval === 1) text = `Every ${unit[0]}`;
  else if (interval === 2) text = `Every other ${unit[0]}`;
  else text = `Every ${interval} ${unit[1]}`;

  if (freq === 'WEEKLY' && days && !(interval === 1 && days.weekdays)) {
    text = interval === 1 ? `Every ${days.text}` : `${text} on ${days.text}`;
  } else if (freq === 'DAILY' && days) {
    text = `${text} on ${days.text}`;
  } else if ((freq === 'MONTHLY' || freq === 'YEARLY') && days) {
    if (setPos && days.weekdays) text = `${text} on the ${ordinal(Number(setPos))} weekday`;
    else if (setPos) text = `${text} on the ${ordinal(Number(setPos))} of ${days.text}`;
    else text = `${text} on ${days.text.includes(' ') ? `the ${days.text}` : `every ${days.text}`}`;
  }
  if (monthDays && (freq === 'MONTHLY' || freq === 'YEARLY')) {
    text =
      freq === 'YEARLY' && months
        ? `${text} on ${list(months)} ${list(monthDays).replaceAll('the ', '')}`
        : `${text} on ${list(monthDays)}`;
  } else if (months) {
    text = `${text} in ${list(months)}`;
  }

  const count = rule.get('COUNT');
  if (count) text += `, ${count} more time${count === '1' ? '' : 's'}`;
  const until = rule.get('UNTIL');
  if (until) {
    const m = /^(\d{4})(\d{2})(\d{2})/.exec(until);
    text += m ? `, until ${m[1]}-${m[2]}-${m[3]}` : `, until ${until}`;
  }
  if (from === 'completion') text += ' (counted from completion)';
  return text;
}
