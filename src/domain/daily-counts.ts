// Daily counts of what collection did (the console's overview): per UTC day, a metric and a key, a number. No person.
export const DAY_MS = 86_400_000;

/**
 * `messages`: accepted messages by `<type>.<outcome>` (outcome `stored`, `duplicate`, `dropped`);
 * `message_drops`: whole messages dropped, by reason (`blocked_identity`, `suppressed`, `nothing_to_keep`);
 * `field_drops`: fields not stored, by the collection rule's reason code (plus `unverified_identity`).
 */
export const DAILY_METRICS = ['messages', 'message_drops', 'field_drops'] as const;
export type DailyMetric = (typeof DAILY_METRICS)[number];

export interface DailyCount {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  metric: DailyMetric;
  key: string;
  count: number;
}

/** The UTC day of a time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The `days` UTC days ending with today's, oldest first. */
export function daysEnding(now: number, days: number): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  return Array.from({ length: days }, (_, i) => utcDay(today - (days - 1 - i) * DAY_MS));
}
