// The console's overview (docs/console.md, "Overview"): messages per day by outcome, drops by reason, people known,
// consent rates per purpose, rights requests open and overdue. Aggregates only: nothing here names or counts one person.
import { daysEnding } from '../../domain/daily-counts.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { Localized } from '../../domain/privacy-config-types.ts';
import { DailyCountsRepo } from '../../store/daily-counts-repo.ts';
import { OverviewRepo, type OpenRightsCounts } from '../../store/overview-repo.ts';
import type { DataScope } from '../../store/scope.ts';
import { TransparencyRepo } from '../../store/transparency-repo.ts';

export const OUTCOMES = ['stored', 'duplicate', 'dropped'] as const;
type Outcome = (typeof OUTCOMES)[number];
type ByOutcome = Record<Outcome, number>;

/** A row of `daily_counts` as read (the metric as stored: a row of a metric this version does not know is ignored). */
interface CountRow {
  day: string;
  metric: string;
  key: string;
  count: number;
}

export interface OverviewDay extends ByOutcome {
  day: string;
  /** Fields dropped that day (of messages kept or not). */
  droppedFields: number;
}

export interface ReasonCount {
  reason: string;
  count: number;
}

export interface DailyReason extends ReasonCount {
  day: string;
}

export interface ConsentRate {
  purpose: string;
  name: Localized;
  /** People with a decision in force for the purpose. */
  decided: number;
  granted: number;
  /** granted / decided; null when nobody decided. */
  rate: number | null;
}

export interface Overview {
  days: number;
  from: string;
  to: string;
  generatedAt: number;
  daily: OverviewDay[];
  types: (ByOutcome & { type: string })[];
  drops: { fields: ReasonCount[]; messages: ReasonCount[]; daily: DailyReason[] };
  subjects: { total: number };
  consent: ConsentRate[];
  rights: OpenRightsCounts;
}

export interface OverviewDeps {
  db: DataScope;
  cfg: CompiledConfig;
  /** Writes what this process counted but has not written yet (the live debugger's flush), so a read sees it. */
  flush: () => Promise<void>;
  now?: (() => number) | undefined;
}

export class OverviewService {
  readonly #now: () => number;

  constructor(private readonly deps: OverviewDeps) {
    this.#now = deps.now ?? Date.now;
  }

  async overview(days: number): Promise<Overview> {
    await this.deps.flush();
    const now = this.#now();
    const range = daysEnding(now, days);
    const from = range[0]!;
    const to = range[range.length - 1]!;
    const rows = await new DailyCountsRepo(this.deps.db).between(from, to);
    const repo = new OverviewRepo(this.deps.db);
    return {
      days,
      from,
      to,
      generatedAt: now,
      ...fromCounts(range, rows),
      subjects: { total: await repo.subjects() },
      consent: await this.#consent(),
      rights: await repo.openRights(now),
    };
  }

  async #consent(): Promise<ConsentRate[]> {
    const purposes = this.deps.cfg.config.purposes.filter((p) => p.legalBasis === 'consent');
    const counted = new Map((await new TransparencyRepo(this.deps.db).consentDecisions(purposes.map((p) => p.key))).map((r) => [r.purpose, r]));
    return purposes.map((p) => {
      const c = counted.get(p.key);
      const decided = c?.decided ?? 0;
      const granted = c?.granted ?? 0;
      return { purpose: p.key, name: p.name, decided, granted, rate: decided === 0 ? null : granted / decided };
    });
  }
}

/** Every day of the range (zeros included), totals per message type, and drops per reason, most frequent first. */
export function fromCounts(range: readonly string[], rows: readonly CountRow[]) {
  const daily = new Map<string, OverviewDay>(range.map((day) => [day, { day, stored: 0, duplicate: 0, dropped: 0, droppedFields: 0 }]));
  const types = new Map<string, ByOutcome & { type: string }>();
  const fields = new Map<string, number>();
  const messages = new Map<string, number>();
  const fieldsDaily: DailyReason[] = [];
  for (const r of rows) {
    const day = daily.get(r.day);
    if (!day) continue;
    if (r.metric === 'messages') {
      const [type = '', outcome = ''] = r.key.split('.');
      if (!isOutcome(outcome)) continue;
      day[outcome] += r.count;
      let t = types.get(type);
      if (!t) types.set(type, (t = { type, stored: 0, duplicate: 0, dropped: 0 }));
      t[outcome] += r.count;
    } else if (r.metric === 'field_drops') {
      day.droppedFields += r.count;
      fieldsDaily.push({ day: r.day, reason: r.key, count: r.count });
      fields.set(r.key, (fields.get(r.key) ?? 0) + r.count);
    } else if (r.metric === 'message_drops') {
      messages.set(r.key, (messages.get(r.key) ?? 0) + r.count);
    }
  }
  const reasons = (m: Map<string, number>): ReasonCount[] =>
    [...m].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
  return {
    daily: [...daily.values()],
    types: [...types.values()].sort((a, b) => (a.type < b.type ? -1 : 1)),
    drops: { fields: reasons(fields), messages: reasons(messages), daily: fieldsDaily },
  };
}

const isOutcome = (s: string): s is Outcome => (OUTCOMES as readonly string[]).includes(s);
