// Segments and computed traits: the definition language, its validation against the privacy configuration, and evaluation.
//
// A segment is a condition (trait comparisons, event counts and sums in time windows, and/or/not); a computed trait is
// one aggregate (count, sum, last value, most frequent value of an event property in a window). Each declares the one
// purpose it serves and may only use data that purpose may see.
import { createHash } from 'node:crypto';
import { didYouMean } from './edit-distance.ts';
import type { Localized, Purpose } from './privacy-config-types.ts';
import type { Json } from './segment-message.ts';
import { aggregateValue, testValue, type AggregateSpec, type CompareOp, type Measure, type PropertyFilter, type Scalar, type SpecState, type TestOp } from './segment-aggregates.ts';

export type { AggregateSpec, CompareOp, Measure, PropertyFilter, Scalar, TestOp } from './segment-aggregates.ts';

export const COMPARE_OPS: readonly CompareOp[] = ['=', '!=', '>', '>=', '<', '<='];
export const TEST_OPS: readonly TestOp[] = [...COMPARE_OPS, 'exists', 'in'];
export const MEASURES: readonly Measure[] = ['count', 'sum', 'last', 'mostFrequent'];

export interface TraitCondition {
  trait: string;
  op: TestOp;
  value?: Scalar | Scalar[];
}
export interface EventCondition {
  event: string;
  withinDays: number;
  where: PropertyFilter[];
  count?: { op: CompareOp; value: number };
  sum?: { property: string; op: CompareOp; value: number };
}
export type Condition = TraitCondition | EventCondition | { and: Condition[] } | { or: Condition[] } | { not: Condition };

export interface ComputeSpec {
  aggregate: Measure;
  event: string;
  property?: string;
  withinDays: number;
  where: PropertyFilter[];
}

/** A validated definition; `withinDays` and `where` are filled in. Exactly one of `condition` and `compute`. */
export interface SegmentDefinition {
  key: string;
  name: Localized;
  description?: Localized;
  purpose: string;
  condition?: Condition;
  compute?: ComputeSpec;
}

export type DefinitionKind = 'segment' | 'computed_trait';

/** The parts of the compiled privacy configuration the validator needs (CompiledConfig has them). */
export interface SegmentCatalog {
  purpose(key: string): Purpose | undefined;
  eventCategory(type: 'track', name: string): string | null;
  classifyEventProperty(type: 'track', name: string, prop: string): string | null;
  classifyTrait(name: string): string | null;
  purposesCovering(category: string): readonly Purpose[];
  readonly config: { readonly purposes: readonly Purpose[]; readonly trackingPlan: { readonly events: Readonly<Record<string, unknown>>; readonly traits: Readonly<Record<string, string>> } };
}

export type PathSegment = string | number;
export interface DefinitionError {
  path: PathSegment[];
  message: string;
}
export type DefinitionValidation = { ok: true; definition: SegmentDefinition } | { ok: false; errors: DefinitionError[] };

const KEY = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_DEPTH = 8;
const MAX_NODES = 64;
const MAX_IN = 100;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isScalar = (v: unknown): v is Scalar => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/** Validates one definition (from the configuration or the API) and fills in its defaults. Pure. */
export function validateSegmentDefinition(raw: unknown, catalog: SegmentCatalog, at: PathSegment[] = []): DefinitionValidation {
  const v = new DefinitionValidator(catalog);
  const top = v.closed(raw, at, ['key', 'name', 'description', 'purpose', 'condition', 'compute'], ['key', 'purpose']);
  if (!top) return { ok: false, errors: v.errors };
  const key = v.text(top.key, [...at, 'key']);
  if (key && !KEY.test(key)) v.err([...at, 'key'], `"${key}" must be a lowercase identifier of at most 64 characters, e.g. engaged_browsers`);
  const purposeKey = v.text(top.purpose, [...at, 'purpose']);
  v.purpose = purposeKey ? catalog.purpose(purposeKey) : undefined;
  if (purposeKey && !v.purpose) v.err([...at, 'purpose'], `unknown purpose "${purposeKey}"${didYouMean(purposeKey, catalog.config.purposes.map((p) => p.key))}`);
  const name = top.name === undefined ? null : v.localized(top.name, [...at, 'name']);
  const description = top.description === undefined ? null : v.localized(top.description, [...at, 'description']);

  let cond: Condition | null = null;
  let comp: ComputeSpec | null = null;
  if ((top.condition === undefined) === (top.compute === undefined)) {
    v.err(at, 'a definition needs exactly one of "condition" (a segment) and "compute" (a computed trait)');
  } else if (top.condition !== undefined) cond = v.condition(top.condition, [...at, 'condition'], 1);
  else comp = v.compute(top.compute, [...at, 'compute']);

  const errors = v.errors;
  if (errors.length > 0 || !key || !purposeKey) return { ok: false, errors: errors.length > 0 ? errors : [{ path: at, message: 'invalid definition' }] };
  const definition: SegmentDefinition = {
    key,
    name: name ?? { it: key, en: key },
    ...(description ? { description } : {}),
    purpose: purposeKey,
    ...(cond ? { condition: cond } : {}),
    ...(comp ? { compute: comp } : {}),
  };
  return { ok: true, definition };
}

/**
 * The checks of one definition's parts, collecting every error rather than stopping at the first. Each returns the part
 * validated (defaults filled in) or null (or a placeholder) when it is wrong.
 */
class DefinitionValidator {
  readonly errors: DefinitionError[] = [];
  /** The definition's purpose once known: what it may not see is an error (not checked while it is unknown). */
  purpose: Purpose | undefined;
  /** Conditions met so far, against MAX_NODES. */
  #nodes = 0;

  constructor(private readonly catalog: SegmentCatalog) {}

  err(path: PathSegment[], message: string): void {
    this.errors.push({ path, message });
  }

  /** A mapping with only the `allowed` keys and every `required` one (unknown and missing keys are errors, not fatal). */
  closed(v: unknown, path: PathSegment[], allowed: readonly string[], required: readonly string[]): Obj | null {
    if (!isObj(v)) return this.err(path, 'must be a mapping'), null;
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.err([...path, k], `unknown key "${k}"${didYouMean(k, allowed)}; expected one of ${allowed.join(', ')}`);
    for (const k of required) if (v[k] === undefined) this.err([...path, k], 'is required');
    return v;
  }

  text(v: unknown, path: PathSegment[]): string | null {
    return typeof v === 'string' && v.trim() !== '' ? v : (this.err(path, 'must be a non-empty string'), null);
  }

  localized(v: unknown, path: PathSegment[]): Localized | null {
    const o = this.closed(v, path, ['it', 'en'], ['it', 'en']);
    if (!o) return null;
    const it = this.text(o.it, [...path, 'it']);
    const en = this.text(o.en, [...path, 'en']);
    return it && en ? { it, en } : null;
  }

  /** The purpose may read this category (checked only when the purpose is known). */
  visible(category: string, path: PathSegment[], what: string): void {
    const purpose = this.purpose;
    if (purpose && !this.catalog.purposesCovering(category).some((p) => p.key === purpose.key)) {
      this.err(path, `${what} has category ${category}, which purpose "${purpose.key}" may not see`);
    }
  }

  /** A window in days; by default the purpose's retention. */
  days(v: unknown, path: PathSegment[]): number {
    const purpose = this.purpose;
    const max = purpose?.retentionDays ?? Infinity;
    if (v === undefined) return purpose?.retentionDays ?? 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return this.err(path, 'must be a positive integer (days)'), 1;
    // Keeping an aggregate longer than the purpose keeps its data would outlive the retention rule.
    if (v > max) this.err(path, `must not exceed the retention of purpose "${purpose?.key}" (${max} days)`);
    return v;
  }

  /** The `op` and `value` of a trait condition or a property filter. */
  test(o: Obj, path: PathSegment[]): { op: TestOp; value?: Scalar | Scalar[] } | null {
    const op = o.op;
    if (typeof op !== 'string' || !(TEST_OPS as readonly string[]).includes(op)) return this.err([...path, 'op'], `must be one of ${TEST_OPS.join(', ')}`), null;
    const value = o.value;
    if (op === 'exists') return value === undefined ? { op } : (this.err([...path, 'value'], '"exists" takes no value'), null);
    if (op === 'in') {
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN || !value.every(isScalar)) {
        return this.err([...path, 'value'], `"in" needs a list of 1 to ${MAX_IN} strings, numbers or booleans`), null;
      }
      return { op, value: [...value] };
    }
    if (op === '=' || op === '!=') {
      if (!isScalar(value) || value === null) return this.err([...path, 'value'], `"${op}" needs a string, number or boolean (use "exists" to test presence)`), null;
      return { op, value };
    }
    if (typeof value !== 'number' && typeof value !== 'string') return this.err([...path, 'value'], `"${op}" needs a number or a string`), null;
    return { op: op as TestOp, value };
  }

  /** A track event of the tracking plan that the purpose may see. */
  eventName(v: unknown, path: PathSegment[]): string | null {
    const name = this.text(v, path);
    if (name === null) return null;
    const category = this.catalog.eventCategory('track', name);
    if (category === null) return this.err(path, `unknown event "${name}"${didYouMean(name, Object.keys(this.catalog.config.trackingPlan.events))}: segments use track events of the tracking plan`), null;
    this.visible(category, path, `event "${name}"`);
    return name;
  }

  /** A property of the event (when the event is known) that the purpose may see. */
  prop(event: string | null, v: unknown, path: PathSegment[]): string | null {
    const p = this.text(v, path);
    if (p === null || event === null) return p;
    const category = this.catalog.classifyEventProperty('track', event, p);
    if (category === null) return this.err(path, `"${event}" has no property "${p}" in the tracking plan`), null;
    this.visible(category, path, `property "${p}" of "${event}"`);
    return p;
  }

  filters(event: string | null, v: unknown, path: PathSegment[]): PropertyFilter[] {
    if (v === undefined) return [];
    if (!Array.isArray(v)) return this.err(path, 'must be a list'), [];
    const out: PropertyFilter[] = [];
    v.forEach((f, i) => {
      const o = this.closed(f, [...path, i], ['property', 'op', 'value'], ['property', 'op']);
      if (!o) return;
      const p = this.prop(event, o.property, [...path, i, 'property']);
      const t = this.test(o, [...path, i]);
      if (p !== null && t) out.push({ property: p, ...t });
    });
    return out;
  }

  /** The `count` (a non-negative integer) or `sum` (of a property: any number) of an event condition. */
  comparison(v: unknown, path: PathSegment[], withProperty: boolean, event: string | null) {
    const o = this.closed(v, path, withProperty ? ['property', 'op', 'value'] : ['op', 'value'], withProperty ? ['property', 'op', 'value'] : ['op', 'value']);
    if (!o) return null;
    if (typeof o.op !== 'string' || !(COMPARE_OPS as readonly string[]).includes(o.op)) this.err([...path, 'op'], `must be one of ${COMPARE_OPS.join(', ')}`);
    const ok = typeof o.value === 'number' && Number.isFinite(o.value) && (withProperty || (Number.isInteger(o.value) && o.value >= 0));
    if (!ok) this.err([...path, 'value'], withProperty ? 'must be a number' : 'must be a non-negative integer');
    const p = withProperty ? this.prop(event, o.property, [...path, 'property']) : null;
    return { op: o.op as CompareOp, value: o.value as number, property: p };
  }

  condition(v: unknown, path: PathSegment[], depth: number): Condition | null {
    if (++this.#nodes > MAX_NODES) return this.err(path, `a definition may have at most ${MAX_NODES} conditions`), null;
    if (depth > MAX_DEPTH) return this.err(path, `conditions may nest at most ${MAX_DEPTH} levels`), null;
    if (!isObj(v)) return this.err(path, 'must be a mapping'), null;
    if ('and' in v) return this.#list(v, 'and', path, depth);
    if ('or' in v) return this.#list(v, 'or', path, depth);
    if ('not' in v) {
      this.closed(v, path, ['not'], ['not']);
      const inner = this.condition(v.not, [...path, 'not'], depth + 1);
      return inner ? { not: inner } : null;
    }
    if ('trait' in v) return this.#traitCondition(v, path);
    if ('event' in v) return this.#eventCondition(v, path);
    const kinds = ['trait', 'event', 'and', 'or', 'not'];
    const keys = Object.keys(v);
    return this.err(path, `a condition needs one of ${kinds.join(', ')}${keys[0] ? didYouMean(keys[0], kinds) : ''}`), null;
  }

  #list(v: Obj, k: 'and' | 'or', path: PathSegment[], depth: number): Condition | null {
    this.closed(v, path, [k], [k]);
    const items = v[k];
    if (!Array.isArray(items) || items.length === 0) return this.err([...path, k], 'must be a non-empty list of conditions'), null;
    const parts = items.map((c, i) => this.condition(c, [...path, k, i], depth + 1));
    return parts.every((p): p is Condition => p !== null) ? (k === 'and' ? { and: parts } : { or: parts }) : null;
  }

  #traitCondition(v: Obj, path: PathSegment[]): Condition | null {
    const o = this.closed(v, path, ['trait', 'op', 'value'], ['trait', 'op'])!;
    const name = this.text(o.trait, [...path, 'trait']);
    const t = this.test(o, path);
    if (name !== null) {
      const category = this.catalog.classifyTrait(name);
      if (category === null) this.err([...path, 'trait'], `unknown trait "${name}"${didYouMean(name, Object.keys(this.catalog.config.trackingPlan.traits))}`);
      else this.visible(category, [...path, 'trait'], `trait "${name}"`);
    }
    return name !== null && t ? { trait: name, ...t } : null;
  }

  #eventCondition(v: Obj, path: PathSegment[]): Condition | null {
    const o = this.closed(v, path, ['event', 'withinDays', 'where', 'count', 'sum'], ['event'])!;
    const event = this.eventName(o.event, [...path, 'event']);
    const withinDays = this.days(o.withinDays, [...path, 'withinDays']);
    const where = this.filters(event, o.where, [...path, 'where']);
    if ((o.count === undefined) === (o.sum === undefined)) return this.err(path, 'an event condition needs exactly one of "count" and "sum"'), null;
    if (o.count !== undefined) {
      const c = this.comparison(o.count, [...path, 'count'], false, event);
      return event && c ? { event, withinDays, where, count: { op: c.op, value: c.value } } : null;
    }
    const s = this.comparison(o.sum, [...path, 'sum'], true, event);
    return event && s?.property ? { event, withinDays, where, sum: { property: s.property, op: s.op, value: s.value } } : null;
  }

  compute(v: unknown, path: PathSegment[]): ComputeSpec | null {
    const o = this.closed(v, path, ['aggregate', 'event', 'property', 'withinDays', 'where'], ['aggregate', 'event']);
    if (!o) return null;
    const aggregate = o.aggregate;
    if (typeof aggregate !== 'string' || !(MEASURES as readonly string[]).includes(aggregate)) this.err([...path, 'aggregate'], `must be one of ${MEASURES.join(', ')}`);
    const event = this.eventName(o.event, [...path, 'event']);
    let property: string | null = null;
    if (aggregate === 'count') {
      if (o.property !== undefined) this.err([...path, 'property'], 'a count reads no property');
    } else if (o.property === undefined) this.err([...path, 'property'], `"${String(aggregate)}" needs a property`);
    else property = this.prop(event, o.property, [...path, 'property']);
    const withinDays = this.days(o.withinDays, [...path, 'withinDays']);
    const where = this.filters(event, o.where, [...path, 'where']);
    if (!event) return null;
    return { aggregate: aggregate as Measure, event, ...(property ? { property } : {}), withinDays, where };
  }
}

export function definitionKind(d: SegmentDefinition): DefinitionKind {
  return d.condition ? 'segment' : 'computed_trait';
}

// ---- compilation and evaluation ----

/** What a subject looks like to one purpose: visible trait values and the purpose's aggregate states. */
export interface SubjectFacts {
  /** The trait's value if present and visible to the purpose; undefined otherwise. */
  trait(name: string): Json | undefined;
  /** The aggregate's state; undefined when it has none (nothing counted). */
  state(specId: string): SpecState | undefined;
  today: number;
}

export interface CompiledDefinition {
  definition: SegmentDefinition;
  kind: DefinitionKind;
  /** sha256 of what the definition computes (purpose, condition or compute): a change means a recompute. */
  hash: string;
  specs: readonly AggregateSpec[];
  traits: readonly string[];
  /** Segments: membership; computed traits: the value (null when there is none). */
  evaluate(facts: SubjectFacts): Json;
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v)) {
    const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

function spec(purpose: string, event: string, where: readonly PropertyFilter[], measure: Measure, property: string | null, withinDays: number): AggregateSpec {
  const body = { purpose, event, where, measure, property, withinDays };
  return { id: sha(canonical(body)).slice(0, 20), ...body };
}

function compare(a: number, op: CompareOp, b: number): boolean {
  return testValue(a, { op, value: b });
}

/** Compiles a validated definition: its aggregate specs (shared by id across definitions) and its evaluator. */
export function compileDefinition(def: SegmentDefinition): CompiledDefinition {
  const specs = new Map<string, AggregateSpec>();
  const traits = new Set<string>();
  const add = (s: AggregateSpec) => (specs.has(s.id) ? specs.get(s.id)! : (specs.set(s.id, s), s));
  type Eval = (f: SubjectFacts) => boolean;
  const build = (c: Condition): Eval => {
    if ('and' in c) {
      const parts = c.and.map(build);
      return (f) => parts.every((p) => p(f));
    }
    if ('or' in c) {
      const parts = c.or.map(build);
      return (f) => parts.some((p) => p(f));
    }
    if ('not' in c) {
      const inner = build(c.not);
      return (f) => !inner(f);
    }
    if ('trait' in c) {
      traits.add(c.trait);
      const t = { op: c.op, value: c.value };
      return (f) => testValue(f.trait(c.trait), t);
    }
    const measure = c.count ? 'count' : 'sum';
    const s = add(spec(def.purpose, c.event, c.where, measure, c.sum?.property ?? null, c.withinDays));
    const cmp = c.count ?? c.sum!;
    return (f) => compare(aggregateValue(f.state(s.id), s, f.today) as number, cmp.op, cmp.value);
  };
  let evaluate: (f: SubjectFacts) => Json;
  if (def.condition) {
    const e = build(def.condition);
    evaluate = (f) => e(f);
  } else {
    const c = def.compute!;
    const s = add(spec(def.purpose, c.event, c.where, c.aggregate, c.property ?? null, c.withinDays));
    evaluate = (f) => aggregateValue(f.state(s.id), s, f.today);
  }
  return { definition: def, kind: definitionKind(def), hash: sha(canonical({ purpose: def.purpose, condition: def.condition, compute: def.compute })), specs: [...specs.values()], traits: [...traits], evaluate };
}
