// What the audit log records on its own: ingestion group commits (one entry per subject) and configuration changes.
import type { DataScope } from '../../store/scope.ts';
import type { AuditEntryInput, AuditPort } from './audit-port.ts';
import type { FlushSummary, IngestObserver } from '../ingest/ingest-flush.ts';

/**
 * One `ingest.batch` entry per subject per group commit (counts, trait names; never values), one `consent.record`
 * per subject whose consent ledger grew, one `identity.merge` per merge — all in one multi-row insert, inside the
 * group's transaction, so the audit log holds exactly what was committed.
 */
export function auditIngestObserver(audit: AuditPort): IngestObserver {
  return {
    async onCommitting(trx: DataScope, summary: FlushSummary): Promise<void> {
      const sources = [...summary.sources.keys()];
      // A group commit may mix sources; per-subject source attribution is not tracked, so the actor names the source
      // only when there is one.
      const actor = sources.length === 1 ? `source:${sources[0]}` : 'system';
      const entries: AuditEntryInput[] = [];
      for (const [subjectId, s] of summary.subjects) {
        if (s.events > 0 || s.traits.length > 0 || s.created) {
          entries.push({
            actor,
            action: 'ingest.batch',
            subjectId,
            fields: [...new Set(s.traits)].sort().map((t) => `trait:${t}`),
            counts: { events: s.events, traits: s.traits.length, consents: s.consents.length },
            outcome: 'ok',
            details: s.created ? { created: true } : {},
          });
        }
        if (s.consents.length > 0) {
          entries.push({
            actor,
            action: 'consent.record',
            subjectId,
            fields: [...new Set(s.consents)].sort().map((p) => `consent:${p}`),
            counts: { records: s.consents.length },
            outcome: 'ok',
          });
        }
      }
      for (const m of summary.merges) {
        entries.push({ actor, action: 'identity.merge', subjectId: m.survivor, outcome: 'ok', details: { merged: m.loser } });
      }
      await audit.append(trx, entries);
    },
  };
}
