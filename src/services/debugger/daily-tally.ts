// The overview's daily counts as collection produces them: every message the live debugger is offered (sampled or not)
// adds to per-day counters in memory, which the debugger's writes drain into `daily_counts`. A few additions per message.
import { DAY_MS, utcDay, type DailyCount } from '../../domain/daily-counts.ts';
import type { DebuggerOutcome, MessageCapture } from '../../domain/debugger-entry.ts';

/** Per message type, a counter per outcome: no key string is built per message. */
interface Counters {
  messages: Map<string, Record<DebuggerOutcome, number>>;
  message_drops: Map<string, number>;
  field_drops: Map<string, number>;
}

const bump = (m: Map<string, number>, key: string, by = 1) => m.set(key, (m.get(key) ?? 0) + by);

export class DailyTally {
  /** Per UTC day (its start in ms): the counters of each metric. Holds a day or two between writes. */
  #days = new Map<number, Counters>();
  #lastStart = -1;
  #last: Counters | undefined;

  /** Counts one message: its type and outcome, why it was dropped, and the reason of each field it dropped. */
  add(c: MessageCapture): void {
    const day = this.#day(c.receivedAt);
    let byOutcome = day.messages.get(c.message.type);
    if (!byOutcome) day.messages.set(c.message.type, (byOutcome = { stored: 0, duplicate: 0, dropped: 0 }));
    byOutcome[c.outcome]++;
    if (c.reason !== null) bump(day.message_drops, c.reason);
    if (c.userIdUnverified) bump(day.field_drops, 'unverified_identity');
    const drops = c.plan?.drops;
    if (drops) for (let i = 0; i < drops.length; i++) bump(day.field_drops, drops[i]!.reason);
  }

  #day(at: number): Counters {
    const start = at - (at % DAY_MS);
    if (start === this.#lastStart && this.#last) return this.#last;
    let day = this.#days.get(start);
    if (!day) this.#days.set(start, (day = { messages: new Map(), message_drops: new Map(), field_drops: new Map() }));
    this.#lastStart = start;
    this.#last = day;
    return day;
  }

  get empty(): boolean {
    return this.#days.size === 0;
  }

  /** Everything counted since the last drain, as rows; the counters start again from zero. */
  drain(): DailyCount[] {
    const rows: DailyCount[] = [];
    for (const [start, day] of this.#days) {
      const d = utcDay(start);
      for (const [type, byOutcome] of day.messages) {
        for (const [outcome, count] of Object.entries(byOutcome)) if (count > 0) rows.push({ day: d, metric: 'messages', key: `${type}.${outcome}`, count });
      }
      for (const metric of ['message_drops', 'field_drops'] as const) for (const [key, count] of day[metric]) rows.push({ day: d, metric, key, count });
    }
    this.#days = new Map();
    this.#last = undefined;
    this.#lastStart = -1;
    return rows;
  }

  /** Puts rows back (a write that failed): they are added to whatever was counted since. */
  restore(rows: readonly DailyCount[]): void {
    for (const r of rows) {
      const day = this.#day(Date.parse(`${r.day}T00:00:00Z`));
      if (r.metric !== 'messages') bump(day[r.metric], r.key, r.count);
      else {
        const [type = '', outcome = ''] = r.key.split('.');
        let byOutcome = day.messages.get(type);
        if (!byOutcome) day.messages.set(type, (byOutcome = { stored: 0, duplicate: 0, dropped: 0 }));
        if (outcome === 'stored' || outcome === 'duplicate' || outcome === 'dropped') byOutcome[outcome] += r.count;
      }
    }
  }
}
