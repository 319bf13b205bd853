// The rights services as the server and the `fiducia jobs` commands both build them: one place that fills the defaults
// (recipient outbox, the mailer from the SMTP settings or the outbox folder, this server's public URL).
import type { Logger } from 'pino';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import { createMailer, type Mailer } from './mailer.ts';
import { OutboxRecipientNotifier, type RecipientNotifier } from './recipient-notifier.ts';
import { RightsIntake } from './rights-intake.ts';
import type { RightsDeps, SubjectSegmentsPort } from './rights-steps.ts';
import { sweepRights, type SweepReport } from './rights-sweep.ts';
import { RightsService } from './rights.ts';

export interface RightsParts {
  db: DataScope;
  ring: KeyRing;
  cfg: CompiledConfig;
  audit: AuditPort;
  segments?: SubjectSegmentsPort | undefined;
  logger: Logger;
  /** A mailer (tests inject one); otherwise SMTP at `smtpUrl`, or `<dataDir>/outbox/`. */
  mailer?: Mailer | undefined;
  smtpUrl?: string | undefined;
  mailFrom?: string | undefined;
  dataDir: string;
  /** Default http://127.0.0.1:8787; the server sets its listening address (src/app.ts). */
  publicUrl?: string | undefined;
  /** Art. 19 for destinations: changes queued for those that received the subject's data. */
  destinations?: Pick<RecipientNotifier, 'propagate'> | undefined;
}

export interface RightsServices {
  deps: RightsDeps;
  rights: RightsService;
  intake: RightsIntake;
  /** One rights sweep (package expiry, unconfirmed requests, mail copies, orphan keys). */
  sweep(): Promise<SweepReport>;
}

export function buildRightsServices(p: RightsParts): RightsServices {
  const deps: RightsDeps = {
    db: p.db,
    ring: p.ring,
    cfg: p.cfg,
    audit: p.audit,
    segments: p.segments,
    notifier: new OutboxRecipientNotifier(p.destinations),
    mailer: p.mailer ?? createMailer({ smtpUrl: p.smtpUrl, from: p.mailFrom, dataDir: p.dataDir, logger: p.logger }),
    logger: p.logger,
    publicUrl: p.publicUrl ?? 'http://127.0.0.1:8787',
  };
  const rights = new RightsService(deps);
  const intake = new RightsIntake(deps, rights);
  return { deps, rights, intake, sweep: () => sweepRights(deps, rights, intake) };
}
