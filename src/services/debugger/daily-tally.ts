// The overview's daily counts as collection produces them: every message the live debugger is offered (sampled or not)
// adds to per-day counters in memory, which the debugger's writes drain into `daily_counts`. A few additions per message.
import { DAY_MS, utcDay, type DailyCount, type DailyMetric } from '../../domain/daily-counts.ts';
import type { MessageCapture } from '../../domain/debugger-entry.ts';

type Counters = Record<DailyMetric, Map<string, number>>;

const bump = (m: Map<string, number>, key: string, by = 1) => m.set(key, (m.get(key) ?? 0) + by);

export class DailyTally {
  /** Per UTC day (its start in ms): the counters of each metric. Holds a day or two between writes. */
  #days = new Map<number, Counters>();
  #lastStart = -1;
  #last: Counters | undefined;

  /** Counts one message: its type and outcome, why it was dropped, and the reason of each field it dropped. */
  add(c: MessageCapture): void {
    const day = this.#day(c.receivedAt);
    bump(day.messages, `${c.message.type}.${c.outcome}`);
    if (c.reason !== null) bump(day.message_drops, c.reason);
    if (c.userIdUnverified) bump(day.field_drops, 'unverified_identity');
    const drops = c.plan?.drops;
    if (drops) for (const d of drops) bump(day.field_drops, d.reason);
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
      for (const metric of Object.keys(day) as DailyMetric[]) for (const [key, count] of day[metric]) rows.push({ day: d, metric, key, count });
    }
    this.#days = new Map();
    this.#last = undefined;
    this.#lastStart = -1;
    return rows;
  }

  /** Puts rows back (a write that failed): they are added to whatever was counted since. */
  restore(rows: readonly DailyCount[]): void {
    for (const r of rows) bump(this.#day(Date.parse(`${r.day}T00:00:00Z`))[r.metric], r.key, r.count);
  }
}
