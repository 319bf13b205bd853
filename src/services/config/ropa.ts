// The record of processing (Art. 30) and the notice's purpose table, from the configuration plus what the running system reports.
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { buildRopa, noticePurposes, type Lang, type NoticePurpose, type Ropa, type SystemFacts } from '../../domain/ropa.ts';
import { AccessRepo } from '../../store/access-repo.ts';
import type { Databases } from '../../store/database.ts';
import { KeystoreRepo } from '../../store/keystore-repo.ts';
import type { AuditLog } from '../audit/audit-log.ts';

const ROLES = ['admin', 'dpo', 'analyst', 'service'] as const;

export class RopaService {
  constructor(
    private readonly cfg: CompiledConfig,
    private readonly dbs: Pick<Databases, 'dialect' | 'store' | 'keyStore'>,
    private readonly audit: AuditLog,
  ) {}

  async facts(): Promise<SystemFacts> {
    const keks = await new KeystoreRepo(this.dbs.keyStore).kekVersions();
    const latest = keks[keks.length - 1];
    const access = new AccessRepo(this.dbs.store);
    const tokensByRole: Record<string, number> = {};
    for (const role of ROLES) tokensByRole[role] = await access.countTokens(role, true);
    const head = await this.audit.head();
    const cp = await this.audit.latestCheckpoint();
    const verify = await this.audit.last('audit.verify');
    return {
      generatedAt: Date.now(),
      configHash: this.cfg.hash,
      storage: this.dbs.dialect,
      // The newest KEK version's creation is the last rotation (version 1: the initial keying).
      encryption: { kekVersion: latest?.version ?? 0, kekVersions: keks.length, lastKeyRotation: latest ? Number(latest.created_at) : null },
      access: { tokensByRole, sources: await access.countSources() },
      audit: {
        size: head.size,
        rootHash: head.rootHash.toString('base64'),
        signingKeyId: this.audit.signer.keyId,
        origin: this.audit.signer.origin,
        lastCheckpoint: cp ? { treeSize: cp.treeSize, timestamp: cp.timestamp } : null,
        lastVerify: verify ? { at: verify.at, ok: verify.outcome === 'ok', entries: Number(verify.counts.entries ?? 0) } : null,
      },
    };
  }

  async ropa(): Promise<Ropa> {
    return buildRopa(this.cfg.config, await this.facts());
  }

  purposes(lang: Lang): NoticePurpose[] {
    return noticePurposes(this.cfg.config, lang);
  }
}
