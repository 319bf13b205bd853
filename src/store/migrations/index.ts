// The ordered list of migrations of each database; a new migration is a new file added at the end of its list.
import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../dialect.ts';
import { initial } from './0001-initial.ts';
import { audit } from './0002-audit.ts';
import { subjectState } from './0003-subject-state.ts';
import { segments } from './0004-segments.ts';
import { rights } from './0005-rights.ts';
import { identityLookup } from './0006-identity-lookup.ts';
import { auditSubjectBlocks } from './0007-audit-subject-blocks.ts';
import { sourceKinds } from './0008-source-kinds.ts';
import { shardBySubject } from './0009-shard-by-subject.ts';
import { subjectUserIds } from './0010-subject-user-ids.ts';
import { jobs } from './0011-jobs.ts';
import { retentionAggregates } from './0012-retention-aggregates.ts';
import { deliveries } from './0013-deliveries.ts';
import { breaches } from './0014-breaches.ts';
import { exfiltration } from './0015-exfiltration.ts';
import { debuggerEvents } from './0016-debugger.ts';
import { consoleUsers } from './0017-console-users.ts';
import { visitorKeys } from './0018-visitor-keys.ts';
import { dailyCounts } from './0019-daily-counts.ts';
import { consoleSuspension } from './0020-console-suspension.ts';
import { keystore } from './keys-0001.ts';
import { auditSigning } from './keys-0002-audit-signing.ts';
import { orphanSweep } from './keys-0003-orphan-sweep.ts';

const DATA: [string, (dialect: Dialect) => Migration][] = [
  ['0001_initial', initial],
  ['0002_audit', audit],
  ['0003_subject_state', subjectState],
  ['0004_segments', segments],
  ['0005_rights', rights],
  ['0006_identity_lookup', identityLookup],
  ['0007_audit_subject_blocks', auditSubjectBlocks],
  ['0008_source_kinds', sourceKinds],
  ['0009_shard_by_subject', shardBySubject],
  ['0010_subject_user_ids', subjectUserIds],
  ['0011_jobs', jobs],
  ['0012_retention_aggregates', retentionAggregates],
  ['0013_deliveries', deliveries],
  ['0014_breaches', breaches],
  ['0015_exfiltration', exfiltration],
  ['0016_debugger', debuggerEvents],
  ['0017_console_users', consoleUsers],
  ['0018_visitor_keys', visitorKeys],
  ['0019_daily_counts', dailyCounts],
  ['0020_console_suspension', consoleSuspension],
];

const KEYS: [string, (dialect: Dialect) => Migration][] = [
  ['0001_keystore', keystore],
  ['0002_audit_signing', auditSigning],
  ['0003_orphan_sweep', orphanSweep],
];

class StaticProvider implements MigrationProvider {
  constructor(private readonly migrations: Record<string, Migration>) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return this.migrations;
  }
}

function provider(list: [string, (dialect: Dialect) => Migration][], dialect: Dialect): MigrationProvider {
  return new StaticProvider(Object.fromEntries(list.map(([name, make]) => [name, make(dialect)])));
}

export const dataMigrationProvider = (dialect: Dialect) => provider(DATA, dialect);
export const keyMigrationProvider = (dialect: Dialect) => provider(KEYS, dialect);
