// The rights sweep as the `fiducia jobs` commands build it: the rights services over the opened storage, with the
// mailer the server would use (SMTP, or the outbox folder).
import type { Logger } from 'pino';
import type { FiduciaOptions } from '../core.ts';
import type { CompiledConfig } from '../domain/privacy-config.ts';
import type { AuditLog } from '../services/audit/audit-log.ts';
import type { KeyRing } from '../services/keys/keyring.ts';
import { createMailer } from '../services/rights/mailer.ts';
import { OutboxRecipientNotifier } from '../services/rights/recipient-notifier.ts';
import { RightsIntake } from '../services/rights/rights-intake.ts';
import { sweepRights, type SweepReport } from '../services/rights/rights-sweep.ts';
import { RightsService } from '../services/rights/rights.ts';
import type { SegmentService } from '../services/segments/segments.ts';
import type { DataScope } from '../store/scope.ts';

export interface SweeperParts {
  db: DataScope;
  ring: KeyRing;
  cfg: CompiledConfig;
  audit: AuditLog;
  segments: SegmentService;
  logger: Logger;
  opts: FiduciaOptions;
}

export function rightsSweeper(p: SweeperParts): () => Promise<SweepReport> {
  const deps = {
    db: p.db,
    ring: p.ring,
    cfg: p.cfg,
    audit: p.audit,
    segments: p.segments,
    notifier: new OutboxRecipientNotifier(),
    mailer: p.opts.mailer ?? createMailer({ smtpUrl: p.opts.smtpUrl, from: p.opts.mailFrom, dataDir: p.opts.dataDir, logger: p.logger }),
    logger: p.logger,
    publicUrl: p.opts.publicUrl ?? 'http://127.0.0.1:8787',
  };
  const rights = new RightsService(deps);
  const intake = new RightsIntake(deps, rights);
  return () => sweepRights(deps, rights, intake);
}
