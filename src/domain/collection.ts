// The collection rule (DESIGN §3): which fields of a message may be stored, under which purposes, and why the rest is dropped.
import type { CompiledConfig } from './privacy-config.ts';
import { UNCLASSIFIED, type UnknownPolicy } from './privacy-config-types.ts';
import type { Json, JsonObject, NormalizedMessage } from './segment-message.ts';

export type DropReason =
  | 'no_basis'
  | 'no_purpose'
  | 'special_category'
  | 'unknown_event'
  | 'unknown_property'
  | 'unknown_trait'
  | 'unknown_context';

export type FieldKind = 'event' | 'property' | 'trait' | 'context';

export interface Drop {
  kind: FieldKind;
  reason: DropReason;
  /** The field's path (`properties.x`, `traits.x`, `context.y`, `context.y.z`, or `event`): a name, never a value. */
  field: string;
}

export type Decision = { keep: true; purposes: string[] } | { keep: false; reason: DropReason };

/**
 * Whether a purpose's legal basis holds for this subject at this moment; with `special`, whether it holds
 * for Art. 9 special categories too (explicit consent).
 */
export type ValidNow = (purposeKey: string, special?: boolean) => boolean;

export function decideCategory(cfg: CompiledConfig, category: string, validNow: ValidNow): Decision {
  // Unclassified data is kept for later classification but readable by no purpose; system.* is not personal data.
  if (category === UNCLASSIFIED || !cfg.isPersonal(category)) return { keep: true, purposes: [] };
  const covering = cfg.purposesCovering(category);
  if (covering.length === 0) return { keep: false, reason: 'no_purpose' };
  const special = cfg.isSpecial(category);
  const purposes: string[] = [];
  for (const p of covering) {
    // Art. 9: special categories only ever under (explicit) consent.
    if (special && p.legalBasis !== 'consent') continue;
    if (validNow(p.key, special)) purposes.push(p.key);
  }
  if (purposes.length > 0) return { keep: true, purposes };
  return { keep: false, reason: special ? 'special_category' : 'no_basis' };
}

export interface PlannedTrait {
  name: string;
  category: string;
  value: Json;
  purposes: string[];
}

export interface PlannedEvent {
  category: string;
  purposes: string[];
  /** Kept fields only; `fields` maps `properties.x` / `context.y` / `traits.z` to its category. */
  payload: { properties: JsonObject; context: JsonObject; traits: JsonObject; fields: Record<string, string> };
  categories: string[];
}

export interface MessagePlan {
  event: PlannedEvent | null;
  traits: PlannedTrait[];
  drops: Drop[];
}

function classifyOrUnknown(
  category: string | null,
  policy: 'drop' | 'unclassified',
): string | null {
  if (category !== null) return category;
  return policy === 'unclassified' ? UNCLASSIFIED : null;
}

/** Applies the collection rule to every field of a normalized message. */
export function planMessage(cfg: CompiledConfig, msg: NormalizedMessage, validNow: ValidNow): MessagePlan {
  const unknown = cfg.config.trackingPlan.unknown;
  const drops: Drop[] = [];
  const traits: PlannedTrait[] = [];

  if (msg.type === 'identify') {
    for (const [name, value] of Object.entries(msg.traits)) {
      if (value === undefined) continue;
      const category = classifyOrUnknown(cfg.classifyTrait(name), unknown.traits);
      if (category === null) {
        drops.push({ kind: 'trait', reason: 'unknown_trait', field: `traits.${name}` });
        continue;
      }
      const d = decideCategory(cfg, category, validNow);
      if (d.keep) traits.push({ name, category, value, purposes: d.purposes });
      else drops.push({ kind: 'trait', reason: d.reason, field: `traits.${name}` });
    }
    return { event: null, traits, drops };
  }
  if (msg.type === 'alias') return { event: null, traits, drops };

  const eventType = msg.type;
  const rawCategory = cfg.eventCategory(eventType, msg.event ?? undefined);
  const category = classifyOrUnknown(rawCategory, unknown.events);
  if (category === null) return { event: null, traits, drops: [{ kind: 'event', reason: 'unknown_event', field: 'event' }] };
  const eventDecision = decideCategory(cfg, category, validNow);
  if (!eventDecision.keep) return { event: null, traits, drops: [{ kind: 'event', reason: eventDecision.reason, field: 'event' }] };

  const kept = new KeptFields(cfg, validNow, drops, category, eventDecision.purposes);
  const properties: JsonObject = {};
  // group calls carry the group's traits; they are properties of the event, not of the person's profile.
  const props = msg.type === 'group' ? { ...msg.traits, ...msg.properties } : msg.properties;
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined) continue;
    const pc = classifyOrUnknown(cfg.classifyEventProperty(eventType, msg.event ?? undefined, name), unknown.properties);
    if (kept.admit('property', pc, 'properties.', name)) properties[name] = value;
  }
  const context = planContext(cfg, kept, msg.context, unknown.properties);

  return {
    event: {
      category,
      purposes: [...kept.purposes].sort(),
      payload: { properties, context, traits: {}, fields: kept.fields },
      categories: [...kept.categories].sort(),
    },
    traits,
    drops,
  };
}

/** The fields of one event admitted so far, with the categories and purposes they bring; drops are recorded as they come. */
class KeptFields {
  /** The event's own purposes and category, then those of every field kept. */
  readonly purposes: Set<string>;
  readonly categories: Set<string>;
  /** Field path (`properties.x`, `context.y`, `context.y.z`) → category. */
  readonly fields: Record<string, string> = {};

  constructor(
    private readonly cfg: CompiledConfig,
    private readonly validNow: ValidNow,
    private readonly drops: Drop[],
    category: string,
    purposes: readonly string[],
  ) {
    this.purposes = new Set(purposes);
    this.categories = new Set<string>([category]);
  }

  /**
   * Whether a field of `category` (null: unknown to the tracking plan, dropped) may be kept; if so it is recorded as
   * `prefix + name`, otherwise its drop is.
   */
  admit(kind: 'property' | 'context', category: string | null, prefix: string, name: string): boolean {
    if (category === null) {
      this.drops.push({ kind, reason: kind === 'property' ? 'unknown_property' : 'unknown_context', field: `${prefix}${name}` });
      return false;
    }
    const d = decideCategory(this.cfg, category, this.validNow);
    if (!d.keep) {
      this.drops.push({ kind, reason: d.reason, field: `${prefix}${name}` });
      return false;
    }
    this.fields[`${prefix}${name}`] = category;
    this.categories.add(category);
    for (const p of d.purposes) this.purposes.add(p);
    return true;
  }
}

/** The context members that may be kept (`consent` and `traits` never are: they are recorded elsewhere). */
function planContext(cfg: CompiledConfig, kept: KeptFields, msgContext: JsonObject, unknownPolicy: UnknownPolicy): JsonObject {
  const context: JsonObject = {};
  for (const [key, value] of Object.entries(msgContext)) {
    if (value === undefined || key === 'consent' || key === 'traits') continue;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      // Objects like `device` mix identifiers with technical details: classify each member.
      const members: JsonObject = {};
      const prefix = `context.${key}.`;
      for (const [sub, subValue] of Object.entries(value)) {
        if (kept.admit('context', classifyOrUnknown(cfg.classifyContext(key, sub), unknownPolicy), prefix, sub)) members[sub] = subValue;
      }
      if (Object.keys(members).length > 0) context[key] = members;
      continue;
    }
    if (kept.admit('context', classifyOrUnknown(cfg.classifyContext(key), unknownPolicy), 'context.', key)) context[key] = value;
  }
  return context;
}
