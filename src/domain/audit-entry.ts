// The audit entry and its canonical bytes: what each leaf of the audit log's Merkle tree commits to.

export type AuditEntryOutcome = 'ok' | 'denied' | 'failed';
export const AUDIT_OUTCOMES: readonly AuditEntryOutcome[] = ['ok', 'denied', 'failed'];

export type DetailValue = string | number | boolean | null;

/** One entry as committed: who did what, for which purpose, to whom, which fields and how many — never values. */
export interface AuditEntry {
  index: number;
  /** Epoch milliseconds. */
  at: number;
  actor: string;
  action: string;
  purpose: string | null;
  subjectId: string | null;
  fields: string[];
  counts: Record<string, number>;
  outcome: AuditEntryOutcome;
  details: Record<string, DetailValue>;
}

/** The entry as stored in the database: scalar columns, plus `dataJson`, the canonical JSON of {counts, details, fields}. */
export interface AuditEntryParts {
  index: number;
  at: number;
  actor: string;
  action: string;
  purpose: string | null;
  subjectId: string | null;
  outcome: string;
  dataJson: string;
}

const q = JSON.stringify;

/** JSON.stringify of a string, faster: printable ASCII without `"` or `\\` is quoted as it is (as JSON.stringify does). */
function quote(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return q(s);
  }
  return `"${s}"`;
}

/** `quote` for the few texts that repeat on every entry (actors, actions, purposes, outcomes): remembered. */
function quoteRepeated(s: string): string {
  let out = quoted.get(s);
  if (out === undefined) {
    out = quote(s);
    if (quoted.size >= 1024) quoted.clear();
    quoted.set(s, out);
  }
  return out;
}
const quoted = new Map<string, string>();

/** Sorted-key JSON with no whitespace: one text per value, whatever the order its keys were built in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).filter((k) => (value as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${q(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError('audit entries hold finite numbers only');
  return q(value) ?? 'null';
}

/** Why an entry cannot be recorded, or null. Checked before anything is written. */
export function entryProblem(e: Omit<AuditEntry, 'index' | 'at' | 'fields'> & { fields: readonly string[] }): string | null {
  if (typeof e.actor !== 'string' || e.actor.length === 0 || e.actor.length > 200) return 'actor must be 1–200 characters';
  if (typeof e.action !== 'string' || !/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/.test(e.action)) return `action "${e.action}" is not a dotted verb`;
  if (!AUDIT_OUTCOMES.includes(e.outcome)) return `outcome "${String(e.outcome)}" is unknown`;
  if (e.purpose !== null && typeof e.purpose !== 'string') return 'purpose must be a string';
  if (e.subjectId !== null && typeof e.subjectId !== 'string') return 'subjectId must be a string';
  if (!e.fields.every((f) => typeof f === 'string')) return 'fields must be names';
  for (const v of Object.values(e.counts)) if (typeof v !== 'number' || !Number.isFinite(v)) return 'counts must be finite numbers';
  for (const v of Object.values(e.details)) {
    if (!(v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) {
      return 'details must be strings, finite numbers, booleans or null';
    }
  }
  return null;
}

// The append path's encoder for the flat shapes of `data` (same output as canonicalJson, without its recursion).
function flatJson(o: Readonly<Record<string, DetailValue | undefined>>): string {
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  if (keys.length === 0) return '{}';
  keys.sort();
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const v = o[keys[i]!];
    out += `${i === 0 ? '' : ','}${quoteRepeated(keys[i]!)}:${typeof v === 'string' ? quote(v) : canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The `data` part: canonical JSON of {counts, details, fields}. */
export function entryDataJson(e: Pick<AuditEntry, 'counts' | 'details'> & { fields: readonly string[] }): string {
  return `{"counts":${flatJson(e.counts)},"details":${flatJson(e.details)},"fields":[${e.fields.map(quote).join(',')}]}`;
}

export function entryParts(e: AuditEntry): AuditEntryParts {
  return {
    index: e.index,
    at: e.at,
    actor: e.actor,
    action: e.action,
    purpose: e.purpose,
    subjectId: e.subjectId,
    outcome: e.outcome,
    dataJson: entryDataJson(e),
  };
}

/**
 * The canonical text of an entry, the bytes its leaf commits to: sorted-key JSON
 *   {"action":…,"actor":…,"at":…,"data":{"counts":…,"details":…,"fields":…},"index":…,"outcome":…,"purpose":…,"subjectId":…}
 * The index is inside, so an entry moved to another position no longer matches its leaf.
 *
 * Built from the stored columns without parsing `data`: every other part is a JSON string or integer made here, so the
 * text parses back uniquely from both ends and whatever lies between `"data":` and `,"index":` is `data` — two rows
 * cannot share these bytes by moving text between columns. A `data` that is not canonical JSON was not written by us
 * and changes the hash.
 */
export function canonicalEntryText(p: AuditEntryParts): string {
  return (
    `{"action":${quoteRepeated(String(p.action))},"actor":${quoteRepeated(String(p.actor))},"at":${integer(p.at)},"data":${p.dataJson},` +
    `"index":${integer(p.index)},"outcome":${quoteRepeated(String(p.outcome))},"purpose":${p.purpose === null ? 'null' : quoteRepeated(String(p.purpose))},` +
    `"subjectId":${p.subjectId === null ? 'null' : quote(String(p.subjectId))}}`
  );
}

function integer(n: number): string {
  const v = Number(n);
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`not an entry index or time: ${String(n)}`);
  return String(v);
}

export function canonicalEntryBytes(p: AuditEntryParts): Buffer {
  return Buffer.from(canonicalEntryText(p), 'utf8');
}

/** The entry a stored row stands for (the `data` column parsed). */
export function entryFromParts(p: AuditEntryParts): AuditEntry {
  const data = JSON.parse(p.dataJson) as { counts: AuditEntry['counts']; details: AuditEntry['details']; fields: string[] };
  return {
    index: Number(p.index),
    at: Number(p.at),
    actor: p.actor,
    action: p.action,
    purpose: p.purpose,
    subjectId: p.subjectId,
    fields: data.fields,
    counts: data.counts,
    outcome: p.outcome as AuditEntryOutcome,
    details: data.details,
  };
}
