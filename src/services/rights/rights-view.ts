// The staff view of a rights request: its state, deadline, outcome, package and history, as the API returns it.
import { isOverdue, producesPackage, type RightsType } from '../../domain/rights.ts';
import type { RightsRepo } from '../../store/rights-repo.ts';
import type { RightsRequestsTable } from '../../store/schema.ts';
import { parseJson } from './rights-steps.ts';

export interface RequestOptions {
  purposes?: string[];
  suppress?: boolean;
}

export interface RequestView {
  id: string;
  type: string;
  status: string;
  statusReason: string | null;
  waiting: { reason: string; holdReason?: string } | null;
  channel: string;
  language: string;
  identityKind: string | null;
  subjectId: string | null;
  receivedAt: string;
  verifiedAt: string | null;
  dueAt: string;
  overdue: boolean;
  extension: { at: string; months: number; reason: string } | null;
  closedAt: string | null;
  options: RequestOptions;
  outcome: Record<string, unknown>;
  package: { kind: string; expiresAt: string; formats: string[] } | null;
  history?: { at: string; status: string; step: string; reason: string | null; actor: string }[];
}

const iso = (t: number | null) => (t === null ? null : new Date(Number(t)).toISOString());

export async function requestView(repo: RightsRepo, row: RightsRequestsTable, withHistory: boolean, now: number): Promise<RequestView> {
  const info = producesPackage(row.type as RightsType) ? await repo.packageInfo(row.id) : undefined;
  let waiting: RequestView['waiting'] = null;
  if (row.waiting) {
    waiting = { reason: row.waiting };
    if (row.waiting === 'legal_hold' && row.subject_id) {
      const hold = await repo.activeHold(row.subject_id);
      if (hold) waiting.holdReason = hold.reason;
    }
  }
  const v: RequestView = {
    id: row.id,
    type: row.type,
    status: row.status,
    statusReason: row.status_reason,
    waiting,
    channel: row.channel,
    language: row.language,
    identityKind: row.identity_kind,
    subjectId: row.subject_id,
    receivedAt: iso(row.received_at)!,
    verifiedAt: iso(row.verified_at),
    dueAt: iso(row.due_at)!,
    overdue: isOverdue({ status: row.status as 'received', dueAt: Number(row.due_at) }, now),
    extension: row.extended_at === null ? null : { at: iso(row.extended_at)!, months: Number(row.extension_months), reason: row.extension_reason ?? '' },
    closedAt: iso(row.closed_at),
    options: parseJson<RequestOptions>(row.options, {}),
    outcome: parseJson<Record<string, unknown>>(row.outcome, {}),
    package: info ? { kind: info.kind, expiresAt: iso(info.expires_at)!, formats: info.kind === 'access' ? ['json', 'html'] : ['json', 'csv'] } : null,
  };
  if (withHistory) {
    v.history = (await repo.history(row.id)).map((h) => ({ at: iso(h.at)!, status: h.status, step: h.step, reason: h.reason, actor: h.actor }));
  }
  return v;
}
