// Validates the privacy configuration ("privacy as code") and compiles it into the lookups the engine uses.
import { createHash } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import type { ValueError } from '@sinclair/typebox/value';
import { didYouMean } from './edit-distance.ts';
import { checkDestinations, checkTransferAt, copySafeguard, DestinationSchema, normalizeDestination, TransferSchema } from './privacy-config-destinations.ts';
import { checkDetection, DetectionSchema, normalizeDetection } from './privacy-config-detection.ts';
import { Closed, Country, entryCovers, formatConfigPath, oneOf, Opt, SemanticErrors, Text } from './privacy-config-shared.ts';
import type { ConfigError, PathSegment } from './privacy-config-shared.ts';
import { LEGAL_BASES, UNCLASSIFIED } from './privacy-config-types.ts';
import type { Category, Destination, EventPlan, PrivacyConfig, Purpose, Recipient, TrackingPlan } from './privacy-config-types.ts';
import { validateSegmentDefinition, type SegmentCatalog, type SegmentDefinition } from './segments.ts';

export { entryCovers, formatConfigPath };
export type { ConfigError, PathSegment };

export type ConfigValidation = { ok: true; config: PrivacyConfig } | { ok: false; errors: ConfigError[] };

// ---- shape (TypeBox): every object is closed so that a typo is an error, never silently ignored ----

const Days = Type.Integer({ minimum: 1, errorMessage: 'must be a positive integer (days)' });
const Localized = Closed({ it: Text, en: Text });
const Policy = Opt(oneOf(['drop', 'unclassified'] as const));
const Mapping = Type.Record(Type.String(), Text);
const EventPlanSchema = Closed({ category: Text, properties: Opt(Mapping) });
const RecipientSchema = Closed({ name: Text, label: Opt(Localized), kind: oneOf(['processor', 'third_party'] as const), country: Country, transfer: Opt(TransferSchema) });
const PurposeSchema = Closed({
  key: Text,
  name: Localized,
  description: Opt(Localized),
  legalBasis: oneOf(LEGAL_BASES),
  categories: Type.Array(Text, { minItems: 1 }),
  retentionDays: Days,
  recipients: Opt(Type.Array(RecipientSchema)),
  saleOrShare: Opt(Type.Boolean()),
});
const ConfigSchema = Closed({
  controller: Closed({ name: Text, contact: Text, dpo: Opt(Text), country: Country }),
  languages: Type.Array(oneOf(['it', 'en'] as const), { minItems: 1 }),
  categories: Type.Array(Closed({ key: Text, name: Localized }), { minItems: 1 }),
  purposes: Type.Array(PurposeSchema, { minItems: 1 }),
  trackingPlan: Closed({
    events: Opt(Type.Record(Type.String(), EventPlanSchema)),
    page: EventPlanSchema,
    screen: EventPlanSchema,
    group: EventPlanSchema,
    traits: Opt(Mapping),
    context: Opt(Mapping),
    unknown: Opt(Closed({ events: Policy, properties: Policy, traits: Policy })),
  }),
  notice: Closed({ current: Text, versions: Type.Array(Closed({ version: Text, material: Type.Boolean() }), { minItems: 1 }) }),
  segmentConsentCategories: Opt(Type.Record(Type.String(), Type.Array(Text))),
  // Each entry is checked by validateSegmentDefinition (closed mappings, so unknown keys are errors there too).
  segments: Opt(Type.Array(Type.Unknown())),
  retention: Opt(Closed({ aggregates: Opt(Type.Boolean({ errorMessage: 'must be true or false (keep anonymous counts of deleted events)' })) })),
  destinations: Opt(Type.Array(DestinationSchema)),
  detection: Opt(DetectionSchema),
  labels: Opt(Closed({ traits: Opt(Type.Record(Type.String(), Localized)), events: Opt(Type.Record(Type.String(), Localized)), properties: Opt(Type.Record(Type.String(), Localized)) })),
  tcf: Opt(Closed({ purposes: Type.Record(Type.String(), Type.Array(Text, { minItems: 1 })), vendorId: Opt(Type.Integer({ minimum: 1, errorMessage: 'must be a positive integer (IAB vendor id)' })) })),
});
type ConfigInput = Static<typeof ConfigSchema>;

// ---- paths ----

/** Inverse of `formatConfigPath` (used to point at the YAML line of an error). Stops at the first malformed part. */
export function parseConfigPath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /(?:^|\.)([A-Za-z_$][\w$]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) break;
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(m[3]) as string);
  }
  return out;
}

function pointerSegments(pointer: string): PathSegment[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9]\d*)$/.test(s) ? Number(s) : s));
}

// ---- shape errors, in words a configuration author understands ----

function describe(e: ValueError, last: PathSegment | undefined): string {
  const schema: TSchema = e.schema;
  if (e.type === ValueErrorType.ObjectAdditionalProperties) {
    const known = Object.keys((schema['properties'] ?? {}) as Record<string, unknown>);
    const key = String(last);
    return `unknown key "${key}"${didYouMean(key, known)}; expected one of ${known.join(', ')}`;
  }
  if (e.type === ValueErrorType.ObjectRequiredProperty) return 'is required';
  if (e.type === ValueErrorType.ArrayMinItems) return 'must not be empty';
  if (typeof schema['errorMessage'] === 'string') return schema['errorMessage'];
  const anyOf: unknown = schema['anyOf'];
  if (Array.isArray(anyOf)) {
    const values = anyOf.map((s: { const?: unknown }) => String(s.const));
    return `must be one of ${values.join(', ')}; got ${JSON.stringify(e.value)}`;
  }
  const kinds: Record<string, string> = { object: 'must be a mapping', array: 'must be a list', boolean: 'must be true or false' };
  return (typeof schema['type'] === 'string' ? kinds[schema['type']] : undefined) ?? e.message;
}

function shapeErrors(raw: unknown): ConfigError[] {
  const out: ConfigError[] = [];
  const seen = new Set<string>();
  for (const e of Value.Errors(ConfigSchema, raw)) {
    const segments = pointerSegments(e.path);
    const path = formatConfigPath(segments);
    if (seen.has(path)) continue; // one message per path: "is required" rather than also "must be a string"
    seen.add(path);
    const message = describe(e, segments.at(-1));
    out.push(isConsentPurposeWithoutRetention(raw, segments, e) ? { path, message, rule: 'consent-purpose-without-retention' } : { path, message });
  }
  return out;
}

/** `purposes[i].retentionDays` missing from a consent-based purpose: a `fiducia check` rule of its own. */
function isConsentPurposeWithoutRetention(raw: unknown, segments: readonly PathSegment[], e: ValueError): boolean {
  if (e.type !== ValueErrorType.ObjectRequiredProperty || segments.length !== 3) return false;
  const [section, index, key] = segments;
  if (section !== 'purposes' || typeof index !== 'number' || key !== 'retentionDays') return false;
  const purposes: unknown = (raw as { purposes?: unknown }).purposes;
  const purpose: unknown = Array.isArray(purposes) ? purposes[index] : undefined;
  return typeof purpose === 'object' && purpose !== null && (purpose as { legalBasis?: unknown }).legalBasis === 'consent';
}

// ---- semantics ----

const CATEGORY_KEY = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const PURPOSE_KEY = /^[a-z][a-z0-9_]*$/;
const CONTEXT_KEY = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)?$/;

/** Art. 9 special categories live under `user.sensitive`. */
export function isSpecialCategory(key: string): boolean {
  return entryCovers('user.sensitive', key);
}

/** Only `system.*` is non-personal; anything else, `unclassified` included, is treated as personal data. */
export function isPersonalCategory(key: string): boolean {
  return !entryCovers('system', key);
}

function semanticErrors(input: ConfigInput): ConfigError[] {
  const errors = new SemanticErrors();
  errors.duplicates(input.languages, (i) => ['languages', i], 'language');
  const keys = input.categories.map((c) => c.key);
  checkCategories(input, keys, errors);
  const purposeKeys = input.purposes.map((p) => p.key);
  errors.duplicates(purposeKeys, (i) => ['purposes', i, 'key'], 'purpose key');
  checkPurposes(input, keys, errors);
  checkTrackingPlan(input.trackingPlan, keys, errors);
  checkNotice(input.notice, errors);
  checkConsentMappings(input, purposeKeys, errors);
  checkDestinations(input.destinations ?? [], { categoryKeys: keys, purposes: input.purposes }, errors);
  checkDetection(input.detection, errors);
  return errors.list;
}

function checkCategories(input: ConfigInput, keys: readonly string[], errors: SemanticErrors): void {
  input.categories.forEach((c, i) => {
    if (!CATEGORY_KEY.test(c.key)) errors.add(['categories', i, 'key'], `"${c.key}" must be dotted lowercase words, e.g. user.contact.email`);
    else if (!c.key.startsWith('user.') && !c.key.startsWith('system.')) errors.add(['categories', i, 'key'], `"${c.key}" must start with "user." or "system."`);
  });
  errors.duplicates(keys, (i) => ['categories', i, 'key'], 'category key');
}

// `fiducia check` rules (src/domain/privacy-lint.ts) that these load errors belong to.
const SPECIAL_RULE = 'special-category-without-explicit-consent';

/** Purpose keys, and the categories each may read: known ones, special categories named and under consent. */
function checkPurposes(input: ConfigInput, keys: readonly string[], errors: SemanticErrors): void {
  const specials = keys.filter(isSpecialCategory);
  input.purposes.forEach((p, i) => {
    if (!PURPOSE_KEY.test(p.key)) errors.add(['purposes', i, 'key'], `"${p.key}" must be a lowercase identifier, e.g. analytics`);
    p.categories.forEach((entry, j) => {
      const at: PathSegment[] = ['purposes', i, 'categories', j];
      if (entry === UNCLASSIFIED) return errors.add(at, `"${UNCLASSIFIED}" may not be read by any purpose; classify the fields instead`);
      if (!keys.some((k) => entryCovers(entry, k))) return errors.add(at, `unknown category "${entry}"${didYouMean(entry, keys)}`);
      // Art. 9 data must be named on purpose, not swept in by a broad prefix such as "user".
      if (!isSpecialCategory(entry) && specials.some((k) => entryCovers(entry, k))) {
        errors.add(at, `"${entry}" would also cover special categories (user.sensitive.*); list the ones needed explicitly`, SPECIAL_RULE);
      } else if (isSpecialCategory(entry) && p.legalBasis !== 'consent') {
        errors.add(at, `special category "${entry}" (Art. 9) needs a consent-based purpose, not ${p.legalBasis}`, SPECIAL_RULE);
      }
    });
    errors.duplicates(p.categories, (j) => ['purposes', i, 'categories', j], 'category');
    (p.recipients ?? []).forEach((r, j) => checkTransferAt(r.country, r.transfer, ['purposes', i, 'recipients', j], errors));
    if (p.saleOrShare === true && (p.recipients ?? []).length === 0) {
      errors.add(['purposes', i, 'recipients'], 'a saleOrShare purpose must name the recipients data is sold or shared with');
    }
  });
}

/** Every category the tracking plan assigns is a known one; event names and context keys are well formed. */
function checkTrackingPlan(plan: ConfigInput['trackingPlan'], keys: readonly string[], errors: SemanticErrors): void {
  const known = new Set(keys);
  const checkCategory = (category: string, at: PathSegment[]) => {
    if (category === UNCLASSIFIED) errors.add(at, `"${UNCLASSIFIED}" is assigned by the unknown policy, not by the tracking plan`);
    else if (!known.has(category)) errors.add(at, `unknown category "${category}"${didYouMean(category, keys)}`);
  };
  const checkPlan = (ep: Static<typeof EventPlanSchema>, at: PathSegment[]) => {
    checkCategory(ep.category, [...at, 'category']);
    for (const [prop, category] of Object.entries(ep.properties ?? {})) checkCategory(category, [...at, 'properties', prop]);
  };
  for (const [name, ep] of Object.entries(plan.events ?? {})) {
    if (name.trim() === '') errors.add(['trackingPlan', 'events', name], 'event names must not be blank');
    checkPlan(ep, ['trackingPlan', 'events', name]);
  }
  for (const kind of ['page', 'screen', 'group'] as const) checkPlan(plan[kind], ['trackingPlan', kind]);
  for (const [name, category] of Object.entries(plan.traits ?? {})) checkCategory(category, ['trackingPlan', 'traits', name]);
  for (const [key, category] of Object.entries(plan.context ?? {})) {
    if (!CONTEXT_KEY.test(key)) errors.add(['trackingPlan', 'context', key], 'context keys are a top-level key or one dotted sub-key, e.g. device.id');
    checkCategory(category, ['trackingPlan', 'context', key]);
  }
}

function checkNotice(notice: ConfigInput['notice'], errors: SemanticErrors): void {
  const versions = notice.versions.map((v) => v.version);
  errors.duplicates(versions, (i) => ['notice', 'versions', i, 'version'], 'notice version');
  if (!versions.includes(notice.current)) {
    errors.add(['notice', 'current'], `"${notice.current}" is not among notice.versions (${versions.join(', ')})`);
  } else if (versions.at(-1) !== notice.current) {
    // Versions are ordered oldest first; one listed after current would judge today's consents.
    errors.add(['notice', 'current'], `"${notice.current}" must be the last entry of notice.versions`, 'notice-versions-out-of-order');
  }
}

/** Consent signals mapped onto purposes (Segment consent categories, TCF purposes) name known purposes. */
function checkConsentMappings(input: ConfigInput, purposeKeys: readonly string[], errors: SemanticErrors): void {
  for (const [id, purposes] of Object.entries(input.segmentConsentCategories ?? {})) {
    if (id.trim() === '') errors.add(['segmentConsentCategories', id], 'category ids must not be blank');
    purposes.forEach((p, i) => {
      if (!purposeKeys.includes(p)) errors.add(['segmentConsentCategories', id, i], `unknown purpose "${p}"${didYouMean(p, purposeKeys)}`);
    });
  }
  for (const [id, purposes] of Object.entries(input.tcf?.purposes ?? {})) {
    // TCF v2.2 defines purposes 1–11.
    if (!/^([1-9]|1[01])$/.test(id)) errors.add(['tcf', 'purposes', id], 'TCF purpose ids are 1 to 11');
    purposes.forEach((p, i) => {
      const purpose = input.purposes.find((x) => x.key === p);
      if (!purpose) errors.add(['tcf', 'purposes', id, i], `unknown purpose "${p}"${didYouMean(p, purposeKeys)}`);
      else if (purpose.legalBasis !== 'consent') errors.add(['tcf', 'purposes', id, i], `purpose "${p}" is based on ${purpose.legalBasis}; a TC string can only grant consent-based purposes`);
    });
  }
}

// ---- normalization: defaults, derived flags, null-prototype maps (safe for lookups by untrusted names) ----

function dict<V, W>(record: Record<string, V> | undefined, map: (v: V) => W): Record<string, W> {
  const out = Object.create(null) as Record<string, W>;
  for (const [k, v] of Object.entries(record ?? {})) out[k] = map(v);
  return out;
}

function normalize(input: ConfigInput): PrivacyConfig {
  const eventPlan = (ep: Static<typeof EventPlanSchema>): EventPlan => ({ category: ep.category, properties: dict(ep.properties, (c) => c) });
  const plan = input.trackingPlan;
  const trackingPlan: TrackingPlan = {
    events: dict(plan.events, eventPlan),
    page: eventPlan(plan.page),
    screen: eventPlan(plan.screen),
    group: eventPlan(plan.group),
    traits: dict(plan.traits, (c) => c),
    context: dict(plan.context, (c) => c),
    unknown: { events: plan.unknown?.events ?? 'drop', properties: plan.unknown?.properties ?? 'drop', traits: plan.unknown?.traits ?? 'drop' },
  };
  const { dpo, ...controller } = input.controller;
  return {
    controller: dpo === undefined ? { ...controller } : { ...controller, dpo },
    languages: [...input.languages],
    categories: input.categories.map((c) => ({ key: c.key, name: { ...c.name }, special: isSpecialCategory(c.key), personal: isPersonalCategory(c.key) })),
    purposes: input.purposes.map((p) => ({
      key: p.key,
      name: { ...p.name },
      description: { ...(p.description ?? p.name) },
      legalBasis: p.legalBasis,
      categories: [...p.categories],
      retentionDays: p.retentionDays,
      recipients: (p.recipients ?? []).map((r): Recipient => ({ ...r, ...(r.label ? { label: { ...r.label } } : {}), ...(r.transfer ? { transfer: copySafeguard(r.transfer) } : {}) })),
      saleOrShare: p.saleOrShare ?? false,
    })),
    trackingPlan,
    notice: { current: input.notice.current, versions: input.notice.versions.map((v) => ({ ...v })) },
    segmentConsentCategories: dict(input.segmentConsentCategories, (ps) => [...ps]),
    destinations: (input.destinations ?? []).map(normalizeDestination),
    // Only when written: a configuration without the section keeps the hash it had before the section existed.
    ...(input.retention ? { retention: { aggregates: input.retention.aggregates ?? false } } : {}),
    ...(input.detection ? { detection: normalizeDetection(input.detection) } : {}),
    ...(input.labels
      ? { labels: { traits: dict(input.labels.traits, (l) => ({ ...l })), events: dict(input.labels.events, (l) => ({ ...l })), properties: dict(input.labels.properties, (l) => ({ ...l })) } }
      : {}),
    ...(input.tcf ? { tcf: { purposes: dict(input.tcf.purposes, (ps) => [...ps]), ...(input.tcf.vendorId !== undefined ? { vendorId: input.tcf.vendorId } : {}) } } : {}),
  };
}

/** Segment definitions are checked against the rest of the configuration (their purposes, events and traits). */
function segmentErrors(raw: readonly unknown[], catalog: SegmentCatalog): { ok: true; definitions: SegmentDefinition[] } | { ok: false; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const definitions: SegmentDefinition[] = [];
  raw.forEach((r, i) => {
    const v = validateSegmentDefinition(r, catalog, ['segments', i]);
    if (!v.ok) errors.push(...v.errors.map((e) => ({ path: formatConfigPath(e.path), message: e.message })));
    else if (definitions.some((d) => d.key === v.definition.key)) errors.push({ path: formatConfigPath(['segments', i, 'key']), message: `duplicate segment key "${v.definition.key}"` });
    else definitions.push(v.definition);
  });
  return errors.length > 0 ? { ok: false, errors } : { ok: true, definitions };
}

/** Validates a parsed configuration (e.g. YAML → JS). Pure: no I/O. */
export function validatePrivacyConfig(raw: unknown): ConfigValidation {
  const shape = shapeErrors(raw);
  if (shape.length > 0) return { ok: false, errors: shape };
  const input = raw as ConfigInput;
  const semantic = semanticErrors(input);
  if (semantic.length > 0) return { ok: false, errors: semantic };
  const config = normalize(input);
  const segments = segmentErrors(input.segments ?? [], new CompiledConfig(config));
  if (!segments.ok) return { ok: false, errors: segments.errors };
  return { ok: true, config: { ...config, segments: segments.definitions } };
}

// ---- compiled lookups ----

/** Sorted-key JSON: the same configuration always hashes the same, whatever the order of its mappings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function frozenCopy<T>(value: T): T {
  if (Array.isArray(value)) return Object.freeze(value.map((v: unknown) => frozenCopy(v))) as T;
  if (value !== null && typeof value === 'object') {
    const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) copy[k] = frozenCopy(v);
    return Object.freeze(copy) as T;
  }
  return value;
}

/** What the hash covers: without destinations the configuration hashes as it did before the `destinations` section existed. */
function hashed(config: PrivacyConfig): object {
  if (config.destinations.length > 0) return config;
  const { destinations: _none, ...rest } = config;
  return rest;
}

const NO_DESTINATIONS: readonly Destination[] = Object.freeze([]);

type EventKind = 'track' | 'page' | 'screen' | 'group';
type CompiledPlan = { category: string; properties: ReadonlyMap<string, string> };
const toMap = (record: Record<string, string>): ReadonlyMap<string, string> => new Map(Object.entries(record));

/** A validated configuration with its lookups built once. The configuration it holds is a frozen copy. */
export class CompiledConfig {
  readonly config: PrivacyConfig;
  /** sha256 (hex) of the canonical JSON of the configuration; written to the audit log when it changes. */
  readonly hash: string;
  readonly #purposes: ReadonlyMap<string, Purpose>;
  readonly #categories: ReadonlyMap<string, Category>;
  readonly #covering = new Map<string, readonly Purpose[]>();
  readonly #consentPurposes: readonly Purpose[];
  readonly #noticeIndex: ReadonlyMap<string, number>;
  readonly #lastMaterial: number;
  readonly #segment: ReadonlyMap<string, readonly string[]>;
  readonly #events: ReadonlyMap<string, CompiledPlan>;
  readonly #pages: Readonly<Record<Exclude<EventKind, 'track'>, CompiledPlan>>;
  readonly #traits: ReadonlyMap<string, string>;
  readonly #context: ReadonlyMap<string, string>;
  readonly #destinations: ReadonlyMap<string, Destination>;
  readonly #destinationsFor: ReadonlyMap<string, readonly Destination[]>;

  constructor(config: PrivacyConfig) {
    this.config = frozenCopy(config);
    this.hash = createHash('sha256').update(canonicalJson(hashed(this.config))).digest('hex');
    const plan = this.config.trackingPlan;
    const compile = (ep: EventPlan): CompiledPlan => ({ category: ep.category, properties: toMap(ep.properties) });
    this.#purposes = new Map(this.config.purposes.map((p) => [p.key, p]));
    this.#categories = new Map(this.config.categories.map((c) => [c.key, c]));
    this.#consentPurposes = Object.freeze(this.config.purposes.filter((p) => p.legalBasis === 'consent'));
    const versions = this.config.notice.versions;
    this.#noticeIndex = new Map(versions.map((v, i) => [v.version, i]));
    this.#lastMaterial = versions.reduce((last, v, i) => (v.material ? i : last), -1);
    this.#segment = new Map(Object.entries(this.config.segmentConsentCategories));
    this.#events = new Map(Object.entries(plan.events).map(([name, ep]) => [name, compile(ep)]));
    this.#pages = { page: compile(plan.page), screen: compile(plan.screen), group: compile(plan.group) };
    this.#traits = toMap(plan.traits);
    this.#context = toMap(plan.context);
    this.#destinations = new Map(this.config.destinations.map((d) => [d.id, d]));
    this.#destinationsFor = new Map(
      this.config.purposes.map((p) => [p.key, Object.freeze(this.config.destinations.filter((d) => d.purposes.includes(p.key)))]),
    );
  }

  destination(id: string): Destination | undefined {
    return this.#destinations.get(id);
  }

  /** The destinations that receive data for `purposeKey`, in configuration order; none for an unknown purpose. */
  destinationsFor(purposeKey: string): readonly Destination[] {
    return this.#destinationsFor.get(purposeKey) ?? NO_DESTINATIONS;
  }

  /** Purposes with an entry equal to `category` or a dotted prefix of it; none for `unclassified`. Memoized for taxonomy keys. */
  purposesCovering(category: string): readonly Purpose[] {
    const cached = this.#covering.get(category);
    if (cached) return cached;
    const found: readonly Purpose[] =
      category === UNCLASSIFIED
        ? Object.freeze([])
        : Object.freeze(this.config.purposes.filter((p) => p.categories.some((entry) => entryCovers(entry, category))));
    if (this.#categories.has(category)) this.#covering.set(category, found); // unbounded input is not cached
    return found;
  }

  purpose(key: string): Purpose | undefined {
    return this.#purposes.get(key);
  }

  category(key: string): Category | undefined {
    return this.#categories.get(key);
  }

  isSpecial(category: string): boolean {
    return isSpecialCategory(category);
  }

  isPersonal(category: string): boolean {
    return isPersonalCategory(category);
  }

  consentPurposes(): readonly Purpose[] {
    return this.#consentPurposes;
  }

  /** Consent given under `version` still holds when no material version is listed after it; unknown versions never hold. */
  noticeVersionValid(version: string): boolean {
    const index = this.#noticeIndex.get(version);
    return index !== undefined && index >= this.#lastMaterial;
  }

  /** Purposes a Segment/CMP consent category id stands for; none when the id is unknown. */
  purposesForSegmentCategory(id: string): readonly string[] {
    return this.#segment.get(id) ?? [];
  }

  /** Category of an identify trait (top-level name), or null: the caller applies `trackingPlan.unknown.traits`. */
  classifyTrait(name: string): string | null {
    return this.#traits.get(name) ?? null;
  }

  /** Category of a top-level property, or null (unknown property, or a `track` event not in the plan). */
  classifyEventProperty(eventType: EventKind, eventName: string | undefined, prop: string): string | null {
    return this.#plan(eventType, eventName)?.properties.get(prop) ?? null;
  }

  /** Category of `context[key]`, or of `context[key][subKey]`: a dotted entry (`device.id`) wins over the entry for `key`. */
  classifyContext(key: string, subKey?: string): string | null {
    return (subKey === undefined ? undefined : this.#context.get(`${key}.${subKey}`)) ?? this.#context.get(key) ?? null;
  }

  /** Category of the event itself, or null for a `track` event the plan does not know. */
  eventCategory(type: EventKind, name: string | undefined): string | null {
    return this.#plan(type, name)?.category ?? null;
  }

  #plan(type: EventKind, name: string | undefined): CompiledPlan | undefined {
    if (type !== 'track') return this.#pages[type];
    return name === undefined ? undefined : this.#events.get(name);
  }
}
