// Event aggregates of segments and computed traits: per-subject state kept in UTC-day buckets, updated one event at a time.
//
// A window of N days is "the last N calendar days (UTC), today included", so an aggregate depends only on the events
// and on today's date: folding events one by one (ingestion) or all at once (recompute) gives the same state, and
// memberships can only decay at midnight UTC.
import type { Json, JsonObject } from './segment-message.ts';

export const DAY_MS = 86_400_000;

export type Measure = 'count' | 'sum' | 'last' | 'mostFrequent';
export type CompareOp = '=' | '!=' | '>' | '>=' | '<' | '<=';
export type TestOp = CompareOp | 'exists' | 'in';
export type Scalar = string | number | boolean | null;

/** A comparison of one value (a trait, or an event property). A missing or invisible value fails every test. */
export interface ValueTest {
  op: TestOp;
  value?: Scalar | Scalar[] | undefined;
}

export interface PropertyFilter extends ValueTest {
  property: string;
}

/** One aggregate over one event name, as seen by one purpose. Definitions that need the same one share its state. */
export interface AggregateSpec {
  /** Stable hash of everything below: the key of its state. */
  id: string;
  purpose: string;
  event: string;
  where: readonly PropertyFilter[];
  measure: Measure;
  property: string | null;
  withinDays: number;
}

/** A stored `track` event, envelope plus (when decrypted) payload `{properties, fields, …}`. */
export interface EventFact {
  id: string;
  name: string;
  timestamp: number;
  category: string;
  /** Null when not decrypted: enough for aggregates that read no property. */
  payload: JsonObject | null;
}

/** Whether the spec's purpose may see data of a category (for this subject, now). */
export type See = (category: string) => boolean;

/**
 * The state of one aggregate: `d` day → count or sum; `l` the last value `[timestamp, eventId, value]`;
 * `m` day → value (JSON text) → `[count, last timestamp]`.
 */
export interface SpecState {
  d?: Record<string, number>;
  l?: [number, string, Json];
  m?: Record<string, Record<string, [number, number]>>;
}

export const dayOf = (ms: number): number => Math.floor(ms / DAY_MS);

/** The first day inside a window of `withinDays` ending today. */
export const firstDay = (today: number, withinDays: number): number => today - withinDays + 1;

export function needsPayload(spec: AggregateSpec): boolean {
  return spec.where.length > 0 || spec.property !== null;
}

function equal(a: Json, b: Scalar): boolean {
  return a === b;
}

function ordered(a: Json, b: Scalar, op: '>' | '>=' | '<' | '<='): boolean {
  // Numbers with numbers, strings with strings (ISO dates compare as text); anything else fails.
  if (!((typeof a === 'number' && typeof b === 'number') || (typeof a === 'string' && typeof b === 'string'))) return false;
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
  }
}

/** Applies a test to a value; `undefined` (absent, or not visible to the purpose) fails every test, `!=` included. */
export function testValue(value: Json | undefined, t: ValueTest): boolean {
  if (value === undefined || value === null) return false;
  switch (t.op) {
    case 'exists':
      return true;
    case 'in':
      return Array.isArray(t.value) && t.value.some((v) => equal(value, v));
    case '=':
      return !Array.isArray(t.value) && t.value !== undefined && equal(value, t.value);
    case '!=':
      return !Array.isArray(t.value) && t.value !== undefined && !equal(value, t.value);
    default:
      return !Array.isArray(t.value) && t.value !== undefined && ordered(value, t.value, t.op);
  }
}

/** A property of an event payload, if present and visible to the purpose. */
function property(ev: EventFact, name: string, see: See): Json | undefined {
  const p = ev.payload;
  if (!p) return undefined;
  const props = p.properties;
  const fields = p.fields;
  if (!props || typeof props !== 'object' || Array.isArray(props) || !Object.hasOwn(props, name)) return undefined;
  const category = fields && typeof fields === 'object' && !Array.isArray(fields) ? fields[`properties.${name}`] : undefined;
  if (typeof category !== 'string' || !see(category)) return undefined;
  return props[name];
}

/** What the event contributes to the spec (1 for a count), or undefined when it does not count. */
export function contribution(spec: AggregateSpec, ev: EventFact, see: See): Json | undefined {
  if (ev.name !== spec.event || !see(ev.category)) return undefined;
  for (const f of spec.where) if (!testValue(property(ev, f.property, see), f)) return undefined;
  if (spec.measure === 'count') return 1;
  const v = property(ev, spec.property ?? '', see);
  if (spec.measure === 'sum') return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  return v === null ? undefined : v;
}

/** Folds one event into the state (events before the window are ignored). Returns whether the state changed. */
export function applyEvent(state: SpecState, spec: AggregateSpec, ev: EventFact, see: See, today: number): boolean {
  const day = dayOf(ev.timestamp);
  if (day < firstDay(today, spec.withinDays)) return false;
  const v = contribution(spec, ev, see);
  if (v === undefined) return false;
  const key = String(day);
  switch (spec.measure) {
    case 'count':
    case 'sum': {
      const d = (state.d ??= {});
      d[key] = (d[key] ?? 0) + (spec.measure === 'count' ? 1 : (v as number));
      return true;
    }
    case 'last': {
      const l = state.l;
      // Latest timestamp wins; on a tie the later event id (ids are time-ordered).
      if (l && (l[0] > ev.timestamp || (l[0] === ev.timestamp && l[1] > ev.id))) return false;
      state.l = [ev.timestamp, ev.id, v];
      return true;
    }
    case 'mostFrequent': {
      const m = (state.m ??= {});
      const bucket = (m[key] ??= {});
      const vk = JSON.stringify(v);
      const cur = bucket[vk];
      bucket[vk] = cur ? [cur[0] + 1, Math.max(cur[1], ev.timestamp)] : [1, ev.timestamp];
      return true;
    }
  }
}

/** Drops the buckets that left the window; returns whether anything was dropped. */
export function prune(state: SpecState, spec: AggregateSpec, today: number): boolean {
  const first = firstDay(today, spec.withinDays);
  let changed = false;
  for (const buckets of [state.d, state.m]) {
    if (!buckets) continue;
    for (const k of Object.keys(buckets)) {
      if (Number(k) < first) {
        delete buckets[k];
        changed = true;
      }
    }
  }
  if (state.l && dayOf(state.l[0]) < first) {
    delete state.l;
    changed = true;
  }
  if (state.d && Object.keys(state.d).length === 0) delete state.d;
  if (state.m && Object.keys(state.m).length === 0) delete state.m;
  return changed;
}

/** The aggregate's value today: a number for count and sum (0 when nothing counts), the value or null otherwise. */
export function aggregateValue(state: SpecState | undefined, spec: AggregateSpec, today: number): Json {
  const first = firstDay(today, spec.withinDays);
  if (spec.measure === 'count' || spec.measure === 'sum') {
    let total = 0;
    // Ascending day order, so the float sum is the same however the state was built.
    const days = Object.keys(state?.d ?? {}).map(Number).filter((d) => d >= first).sort((a, b) => a - b);
    for (const d of days) total += state!.d![String(d)]!;
    return total;
  }
  if (spec.measure === 'last') {
    const l = state?.l;
    return l && dayOf(l[0]) >= first ? l[2] : null;
  }
  const totals = new Map<string, [number, number]>();
  for (const [day, bucket] of Object.entries(state?.m ?? {})) {
    if (Number(day) < first) continue;
    for (const [vk, [n, at]] of Object.entries(bucket)) {
      const cur = totals.get(vk);
      totals.set(vk, cur ? [cur[0] + n, Math.max(cur[1], at)] : [n, at]);
    }
  }
  // Most frequent; ties go to the most recently seen value, then to the smaller JSON text (deterministic).
  let best: [string, number, number] | null = null;
  for (const [vk, [n, at]] of totals) {
    if (!best || n > best[1] || (n === best[1] && (at > best[2] || (at === best[2] && vk < best[0])))) best = [vk, n, at];
  }
  return best ? (JSON.parse(best[0]) as Json) : null;
}
