// Segments and computed traits: definitions (configuration and API), incremental updates inside each ingestion commit,
// full recompute, and the purpose-bound reads of memberships and computed values.
import type { DataScope } from '../../store/scope.ts';
import type { Logger } from 'pino';
import { ciphertextKeyVersion } from '../../crypto/envelope.ts';
import { ANALYST_MINIMUM_COUNT, analystCount, VOUCHED_ASSERTIONS, type AnalystCount } from '../../domain/aggregate-disclosure.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { PolicyEngine } from '../../domain/policy.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { formatConfigPath } from '../../domain/privacy-config.ts';
import { dayOf } from '../../domain/segment-aggregates.ts';
import type { Json } from '../../domain/segment-message.ts';
import { compileDefinition, validateSegmentDefinition, type CompiledDefinition, type DefinitionKind, type SegmentDefinition } from '../../domain/segments.ts';
import { SegmentRepo } from '../../store/segment-repo.ts';
import type { SegmentDefinitionsTable } from '../../store/schema.ts';
import type { FlushSummary, IngestObserver } from '../ingest/ingest-flush.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { PlaintextCache } from '../profiles/plaintext-cache.ts';
import { buildCatalogue, decodeState, newWork, STATE_FIELD, updateSubjects, type Catalogue, type StateBlob, type SubjectWork, type UpdaterDeps } from './segment-updater.ts';


export interface SegmentServiceDeps {
  cfg: CompiledConfig;
  ring: KeyRing;
  policy?: PolicyEngine | undefined;
  logger?: Logger | undefined;
  /** Time source (tests pin it so that windows do not move under them). */
  now?: (() => number) | undefined;
  /** Segment states decrypted for profile reads, kept by exact ciphertext (src/services/profiles/plaintext-cache.ts). */
  plaintext?: PlaintextCache | undefined;
}

export type DefinitionStatus = 'ready' | 'building' | 'invalid';

export interface DefinitionView {
  id: string;
  kind: DefinitionKind;
  purpose: string;
  name: { it: string; en: string };
  description?: { it: string; en: string };
  origin: 'config' | 'api';
  /** `building` until its memberships have been computed over every subject; `invalid` when the configuration changed under it. */
  status: DefinitionStatus;
  definition: SegmentDefinition;
  createdAt: string;
  updatedAt: string;
}

export class SegmentDefinitionError extends FiduciaError {
  constructor(readonly errors: { path: string; message: string }[]) {
    super('FIDUCIA_VALIDATION', `invalid definition: ${errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ')}`, errors);
    this.name = 'SegmentDefinitionError';
  }
}

export class SegmentConflictError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_SEGMENT_CONFLICT', message);
    this.name = 'SegmentConflictError';
  }
}

export class UnknownSegmentError extends FiduciaError {
  constructor(key: string) {
    super('FIDUCIA_NOT_FOUND', `no segment or computed trait "${key}"`);
    this.name = 'UnknownSegmentError';
  }
}

export interface RecomputeOptions {
  /** One definition only (its aggregates are rebuilt; the others are left as they are). */
  segment?: string | undefined;
  /** Rebuild aggregates from stored events (default); false only re-evaluates what the state holds (decay). */
  rebuild?: boolean | undefined;
  onProgress?: ((done: number, total: number) => void) | undefined;
}

const PAGE = 200;

export class SegmentService implements IngestObserver {
  readonly #repo: SegmentRepo;
  readonly #deps: UpdaterDeps;
  readonly #now: () => number;
  #cat: Catalogue = buildCatalogue([]);
  #rows = new Map<string, SegmentDefinitionsTable>();
  #signature = '';
  readonly #building = new Set<Promise<unknown>>();
  #closed = false;

  constructor(
    private readonly db: DataScope,
    private readonly deps: SegmentServiceDeps,
  ) {
    this.#repo = new SegmentRepo(db);
    this.#deps = { ring: deps.ring, policy: deps.policy ?? new PolicyEngine(deps.cfg) };
    this.#now = deps.now ?? Date.now;
  }

  // ---- definitions ----

  /** Syncs the configuration's definitions into the database, loads all, and builds those never built in their current form. */
  async init(): Promise<void> {
    const now = this.#now();
    const existing = new Map((await this.#repo.definitions()).map((r) => [r.key, r]));
    const configured = this.deps.cfg.config.segments ?? [];
    for (const d of configured) {
      const c = compileDefinition(d);
      const row = existing.get(d.key);
      const text = JSON.stringify(d);
      if (row && row.origin === 'config' && row.definition === text) continue;
      if (row && row.origin === 'api') this.deps.logger?.warn({ segment: d.key }, 'a configuration segment replaces the API definition with the same key');
      const sameHash = row?.hash === c.hash;
      await this.#repo.replaceDefinition({
        key: d.key, origin: 'config', kind: c.kind, purpose: d.purpose, definition: text, hash: c.hash,
        created_at: row?.created_at ?? now, updated_at: now, built_hash: sameHash ? (row?.built_hash ?? null) : null, built_at: sameHash ? (row?.built_at ?? null) : null,
      });
    }
    for (const row of existing.values()) {
      if (row.origin === 'config' && !configured.some((d) => d.key === row.key)) await this.#repo.deleteDefinition(row.key);
    }
    await this.#reload(this.db);
    const unbuilt = [...this.#cat.defs.values()].filter((d) => this.#rows.get(d.definition.key)?.built_hash !== d.hash);
    if (unbuilt.length === 0) return;
    // Nobody to compute for (a new installation): built by definition.
    if ((await this.#repo.countLive()) === 0) {
      for (const d of unbuilt) await this.#repo.markBuilt(d.definition.key, d.hash, now);
      await this.#reload(this.db);
      return;
    }
    for (const d of unbuilt) this.#background(d.definition.key);
  }

  async #reload(db: DataScope): Promise<void> {
    const rows = await new SegmentRepo(db).definitions();
    const compiled: CompiledDefinition[] = [];
    for (const r of rows) {
      // Re-validated against today's configuration: a purpose or event may have changed since it was stored.
      const v = validateSegmentDefinition(JSON.parse(r.definition) as unknown, this.deps.cfg);
      if (v.ok) compiled.push(compileDefinition(v.definition));
      else this.deps.logger?.warn({ segment: r.key, errors: v.errors.length }, 'segment definition no longer valid under this configuration; skipped');
    }
    this.#rows = new Map(rows.map((r) => [r.key, r]));
    this.#cat = buildCatalogue(compiled);
    this.#signature = rows.map((r) => `${r.key}:${r.hash}`).join(',');
  }

  /** Picks up definitions changed by another process (one small query per group commit). */
  async #sync(db: DataScope): Promise<void> {
    const sig = (await new SegmentRepo(db).signature()).map((r) => `${r.key}:${r.hash}`).join(',');
    if (sig !== this.#signature) await this.#reload(db);
  }

  #view(row: SegmentDefinitionsTable): DefinitionView {
    const def = JSON.parse(row.definition) as SegmentDefinition;
    const status: DefinitionStatus = !this.#cat.defs.has(row.key) ? 'invalid' : row.built_hash === row.hash ? 'ready' : 'building';
    return {
      id: row.key,
      kind: row.kind as DefinitionKind,
      purpose: row.purpose,
      name: def.name,
      ...(def.description ? { description: def.description } : {}),
      origin: row.origin as 'config' | 'api',
      status,
      definition: def,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      updatedAt: new Date(Number(row.updated_at)).toISOString(),
    };
  }

  definitions(): DefinitionView[] {
    return [...this.#rows.values()].map((r) => this.#view(r));
  }

  definition(key: string): DefinitionView | undefined {
    const row = this.#rows.get(key);
    return row ? this.#view(row) : undefined;
  }

  /** Validates and stores a definition, then computes its memberships in the background. */
  async create(raw: unknown): Promise<DefinitionView> {
    const v = validateSegmentDefinition(raw, this.deps.cfg);
    if (!v.ok) throw new SegmentDefinitionError(v.errors.map((e) => ({ path: formatConfigPath(e.path), message: e.message })));
    const c = compileDefinition(v.definition);
    const now = this.#now();
    // With no live subject there are no memberships to compute: the definition is built as it is stored.
    const nothingToBuild = (await this.#repo.countLive()) === 0;
    const inserted = await this.#repo.insertDefinition({
      key: c.definition.key, origin: 'api', kind: c.kind, purpose: c.definition.purpose, definition: JSON.stringify(c.definition), hash: c.hash,
      created_at: now, updated_at: now, built_hash: nothingToBuild ? c.hash : null, built_at: nothingToBuild ? now : null,
    });
    if (!inserted) throw new SegmentConflictError(`a segment or computed trait "${c.definition.key}" already exists`);
    await this.#reload(this.db);
    if (!nothingToBuild) this.#background(c.definition.key);
    return this.definition(c.definition.key)!;
  }

  /** Deletes an API definition with its memberships (configuration ones are removed from the configuration). */
  async remove(key: string): Promise<void> {
    const row = this.#rows.get(key) ?? (await this.#repo.definitions()).find((r) => r.key === key);
    if (!row) throw new UnknownSegmentError(key);
    if (row.origin !== 'api') throw new SegmentConflictError(`"${key}" is defined in the privacy configuration; remove it there`);
    await this.#repo.deleteDefinition(key);
    await this.#reload(this.db);
  }

  #background(key: string): void {
    const p = this.recompute({ segment: key }).catch((err: unknown) => {
      if (!this.#closed) this.deps.logger?.error({ segment: key, err: err instanceof Error ? err.message : String(err) }, 'segment build failed');
    });
    this.#building.add(p);
    void p.finally(() => this.#building.delete(p));
  }

  /** Resolves when every background build started so far has finished. */
  async settled(): Promise<void> {
    while (this.#building.size > 0) await Promise.all([...this.#building]);
  }

  // ---- reads (callers decide first whether the purpose may be used for the subject) ----

  /** The segments of purpose `purpose` among a subject's memberships (as the profile snapshot reads them). */
  membershipsIn(memberships: readonly { segmentId: string }[], purpose: string): string[] {
    const keys = this.#cat.byPurpose.get(purpose);
    if (!keys || !keys.some((k) => this.#cat.defs.get(k)?.kind === 'segment')) return [];
    return memberships.filter((m) => keys.includes(m.segmentId)).map((m) => m.segmentId);
  }

  /** Values of the computed traits of purpose `purpose`, as of today; traits with no data yet are absent. */
  async computedTraitsFor(subjectId: string, purpose: string): Promise<Record<string, Json>> {
    return this.#hasComputed(purpose) ? this.computedTraitsFrom(subjectId, await this.#repo.stateOf(subjectId), purpose) : Object.create(null);
  }

  #hasComputed(purpose: string): boolean {
    return (this.#cat.byPurpose.get(purpose) ?? []).some((k) => this.#cat.defs.get(k)?.kind === 'computed_trait');
  }

  /** The same, from the subject's encrypted segment state (as the profile snapshot reads it). */
  async computedTraitsFrom(subjectId: string, blob: Buffer | null, purpose: string): Promise<Record<string, Json>> {
    const defs = (this.#cat.byPurpose.get(purpose) ?? []).map((k) => this.#cat.defs.get(k)!).filter((d) => d.kind === 'computed_trait');
    const out = Object.create(null) as Record<string, Json>;
    if (defs.length === 0 || !blob || blob.length === 0) return out;
    const version = ciphertextKeyVersion(blob);
    const key = await this.deps.ring.keyVersion(subjectId, version);
    if (!key) return out;
    // Read-only here (the updater decodes its own copy to change it): a frozen, shared value will do.
    let state = this.deps.plaintext?.get(subjectId, STATE_FIELD, blob)?.value as StateBlob | undefined;
    if (!state) {
      state = decodeState(key, subjectId, blob);
      this.deps.plaintext?.set(subjectId, STATE_FIELD, blob, state);
    }
    const today = dayOf(this.#now());
    for (const d of defs) {
      if (!d.specs.every((s) => Object.hasOwn(state.s, s.id))) continue;
      out[d.definition.key] = d.evaluate({ today, state: (id) => state.s[id], trait: () => undefined });
    }
    return out;
  }

  /** For an access request (Art. 15 covers profiling results): every membership and computed value of the subject. */
  async exportFor(subjectId: string): Promise<{ segments: { id: string; purpose: string; since: string }[]; computedTraits: { id: string; purpose: string; value: Json }[] }> {
    const segments = (await this.#repo.membershipsOf(subjectId)).map((r) => ({ id: r.segment_id, purpose: this.#rows.get(r.segment_id)?.purpose ?? 'unknown', since: new Date(Number(r.since)).toISOString() }));
    const computedTraits = [];
    for (const purpose of this.#cat.byPurpose.keys()) {
      for (const [id, value] of Object.entries(await this.computedTraitsFor(subjectId, purpose))) computedTraits.push({ id, purpose, value });
    }
    return { segments, computedTraits };
  }

  /**
   * Re-evaluates subjects whose state changed outside ingestion (restriction set or lifted, objection recorded or
   * lifted): pass that change's transaction. Listings already hide restricted and objecting subjects meanwhile.
   */
  async refreshSubjects(db: DataScope, subjectIds: readonly string[]): Promise<void> {
    const work = new Map<string, SubjectWork>();
    for (const s of subjectIds) work.set(s, { events: [], defs: new Set(this.#cat.defs.keys()), fresh: false, rebuild: 'missing' });
    if (work.size > 0 && this.#cat.defs.size > 0) await updateSubjects(db, this.#deps, this.#cat, work, this.#now());
  }

  /** Retention deleted some of these subjects' events: their state is rebuilt from the events left (pass that transaction). */
  async rebuildSubjects(db: DataScope, subjectIds: readonly string[]): Promise<void> {
    const work = new Map<string, SubjectWork>();
    for (const s of subjectIds) work.set(s, { events: [], defs: new Set(this.#cat.defs.keys()), fresh: false, rebuild: 'all' });
    if (work.size > 0 && this.#cat.defs.size > 0) await updateSubjects(db, this.#deps, this.#cat, work, this.#now());
  }

  /** Erasure: a subject's state and memberships are deleted (pass the erasure's transaction). */
  async forget(db: DataScope, subjectIds: readonly string[]): Promise<void> {
    await new SegmentRepo(db).forget(subjectIds);
  }

  #segmentRow(key: string): SegmentDefinitionsTable {
    const row = this.#rows.get(key);
    if (!row) throw new UnknownSegmentError(key);
    return row;
  }

  /** A page of members (pseudonymous subject ids), in subject id order after `after`. */
  async members(key: string, after: string | null, limit: number): Promise<{ members: { subjectId: string; since: string }[]; nextCursor: string | null }> {
    const row = this.#segmentRow(key);
    const rows = await this.#repo.membersPage(key, row.purpose, after, limit);
    return {
      members: rows.map((r) => ({ subjectId: r.subject_id, since: new Date(Number(r.since)).toISOString() })),
      nextCursor: rows.length === limit ? rows[rows.length - 1]!.subject_id : null,
    };
  }

  async count(key: string): Promise<number> {
    return this.#repo.countMembers(key, this.#segmentRow(key).purpose);
  }

  /**
   * A member count as an analyst may see it (src/domain/aggregate-disclosure.ts), with the figures it came from
   * for the audit log. Vouched members are counted only when the total could be shown, and only up to the minimum.
   */
  async analystCount(key: string): Promise<{ shown: AnalystCount; members: number; vouched: number }> {
    const purpose = this.#segmentRow(key).purpose;
    const members = await this.#repo.countMembers(key, purpose);
    const vouched = members < ANALYST_MINIMUM_COUNT ? 0 : await this.#repo.countAssertedMembers(key, purpose, VOUCHED_ASSERTIONS, ANALYST_MINIMUM_COUNT);
    return { shown: analystCount(members, vouched), members, vouched };
  }

  // ---- incremental update, inside the ingestion transaction ----

  async onCommitting(trx: DataScope, summary: FlushSummary): Promise<void> {
    await this.#sync(trx);
    const cat = this.#cat;
    if (cat.defs.size === 0) return;
    const work = new Map<string, SubjectWork>();
    const get = (s: string): SubjectWork => {
      let w = work.get(s);
      if (!w) work.set(s, (w = newWork(summary.subjects.get(s)?.created ?? false)));
      return w;
    };
    // Cheap when no definition cares: one map lookup per event.
    for (const ev of summary.written ?? []) {
      if (ev.type !== 'track' || ev.name === null) continue;
      const specs = cat.byEvent.get(ev.name);
      if (!specs) continue;
      const w = get(ev.subjectId);
      w.events.push({ id: ev.id, name: ev.name, timestamp: ev.timestamp, category: ev.category, payload: ev.payload });
      for (const s of specs) for (const k of cat.specDefs.get(s.id) ?? []) w.defs.add(k);
    }
    for (const [s, x] of summary.subjects) {
      for (const t of x.traits) for (const k of cat.byTrait.get(t) ?? []) get(s).defs.add(k);
      // A consent change may open or close the purpose: every definition of it is looked at again.
      for (const p of x.consents) for (const k of cat.byPurpose.get(p) ?? []) get(s).defs.add(k);
    }
    const losers = summary.merges.map((m) => m.loser);
    if (losers.length > 0) await new SegmentRepo(trx).forget(losers);
    for (const m of summary.merges) {
      work.delete(m.loser);
      const w = get(m.survivor);
      w.fresh = false;
      w.rebuild = 'all';
      for (const k of cat.defs.keys()) w.defs.add(k);
    }
    for (const l of losers) work.delete(l);
    if (work.size === 0) return;
    await updateSubjects(trx, this.#deps, cat, work, this.#now());
  }

  // ---- recompute ----

  /** Rebuilds (or re-evaluates) every live subject, a page per transaction. */
  async recompute(opts: RecomputeOptions = {}): Promise<{ subjects: number; definitions: string[] }> {
    await this.#sync(this.db);
    const keys = opts.segment !== undefined ? [opts.segment] : [...this.#cat.defs.keys()];
    const hashes = new Map<string, string>();
    for (const k of keys) {
      const d = this.#cat.defs.get(k);
      if (!d) throw new UnknownSegmentError(k);
      hashes.set(k, d.hash);
    }
    const rebuild = opts.rebuild ?? true;
    const specs = new Set(keys.flatMap((k) => this.#cat.defs.get(k)!.specs.map((s) => s.id)));
    const total = await this.#repo.countLive();
    let done = 0;
    opts.onProgress?.(done, total);
    for (let after: string | null = null; ; ) {
      if (this.#closed) break;
      const ids = await this.#repo.liveSubjects(after, PAGE);
      if (ids.length === 0) break;
      const work = new Map<string, SubjectWork>();
      for (const id of ids) work.set(id, { events: [], defs: new Set(keys), fresh: false, rebuild: !rebuild ? 'missing' : opts.segment === undefined ? 'all' : specs });
      await this.db.transaction((trx) => updateSubjects(trx, this.#deps, this.#cat, work, this.#now()));
      after = ids[ids.length - 1]!;
      done = Math.min(total, done + ids.length);
      opts.onProgress?.(done, total);
    }
    if (rebuild && !this.#closed) {
      const now = this.#now();
      for (const [k, h] of hashes) await this.#repo.markBuilt(k, h, now);
      await this.#reload(this.db);
    }
    return { subjects: done, definitions: keys };
  }

  /**
   * Windows are whole UTC days, so memberships only decay at midnight: the first caller after midnight (across all
   * processes, by compare-and-set on `segment_meta`) re-evaluates everyone. Returns whether this caller ran it.
   */
  async refreshIfDue(onProgress?: RecomputeOptions['onProgress']): Promise<boolean> {
    if (this.#cat.defs.size === 0) return false;
    const day = new Date(dayOf(this.#now()) * 86_400_000).toISOString().slice(0, 10);
    if (!(await this.#repo.advance('refreshed_day', day))) return false;
    await this.recompute({ rebuild: false, onProgress });
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }
}
