// The audit port: every access to personal data and every security-relevant act is written through this one interface.
import type { DataScope } from '../../store/scope.ts';

export type AuditOutcome = 'ok' | 'denied' | 'failed';

export interface AuditEntryInput {
  /** Token id, console user (`user:<id>`), `system`, `source:<id>`, or `anonymous` for failed authentication. */
  actor: string;
  /** Dotted verb, e.g. `profile.read`, `ingest.batch`, `consent.record`, `auth.failed`, `authz.denied`, `keys.rotate`. */
  action: string;
  purpose?: string | null;
  subjectId?: string | null;
  /** Field names (never values). */
  fields?: readonly string[];
  counts?: Record<string, number>;
  outcome: AuditOutcome;
  /** Non-personal details: reason codes, ids, hashes. Never values of personal data. */
  details?: Record<string, string | number | boolean | null>;
}

export interface AuditPort {
  /**
   * Appends entries. Pass the transaction of the operation being recorded, so the entry commits with it
   * (or not at all); pass the database itself for entries that stand alone (e.g. a refused request).
   */
  append(db: DataScope, entries: readonly AuditEntryInput[]): Promise<void>;
}

/** Entries that stand alone (a refused request, a read made outside any transaction), appended in a write of their own. */
export interface AuditRecorder {
  record(entries: readonly AuditEntryInput[]): Promise<void>;
}
