// Sources (write keys) and API tokens: creation, bootstrap from the environment, and lookup by hash.
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { uuidv7 } from '../domain/ids.ts';
import { AccessRepo } from '../store/access-repo.ts';
import type { DataDatabase, SourcesTable, TokensTable } from '../store/schema.ts';
import type { AuditEntryInput, AuditPort } from './audit-port.ts';

export type Role = 'admin' | 'dpo' | 'analyst' | 'service';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

/** `FIDUCIA_ADMIN_TOKEN` / `FIDUCIA_WRITE_KEY`: URL-safe, 16 characters or more. */
export const SECRET_FORMAT = /^[A-Za-z0-9_-]{16,}$/;

export interface Bootstrap {
  /** Secrets generated on this start; printed once, never stored in clear. */
  generated: { adminToken?: string; writeKey?: string };
}

const CACHE_TTL_MS = 30_000;

export class AccessService {
  #sources = new Map<string, { source: SourcesTable; at: number }>();

  /** With `audit`, token and source creation commit together with their `token.create` / `source.create` entry. */
  constructor(
    private readonly repo: AccessRepo,
    private readonly audit?: { port: AuditPort; db: Kysely<DataDatabase> },
  ) {}

  /** Runs `write` on a repo inside a transaction and, if it wrote, appends `entry` in the same transaction. */
  async #audited(write: (repo: AccessRepo) => Promise<boolean>, entry: Parameters<AuditPort['append']>[1][number]): Promise<void> {
    const audit = this.audit;
    if (!audit) {
      await write(this.repo);
      return;
    }
    await audit.db.transaction().execute(async (trx) => {
      if (await write(new AccessRepo(trx))) await audit.port.append(trx, [entry]);
    });
  }

  async bootstrap(adminToken: string | undefined, writeKey: string | undefined): Promise<Bootstrap> {
    const generated: Bootstrap['generated'] = {};
    for (const [name, value] of [['FIDUCIA_ADMIN_TOKEN', adminToken], ['FIDUCIA_WRITE_KEY', writeKey]] as const) {
      if (value !== undefined && !SECRET_FORMAT.test(value)) {
        throw new Error(`${name} must be a URL-safe string of at least 16 characters`);
      }
    }
    if (adminToken) await this.createToken({ name: 'admin (FIDUCIA_ADMIN_TOKEN)', role: 'admin', purposes: [] }, adminToken);
    else if ((await this.repo.countTokens('admin')) === 0) {
      generated.adminToken = (await this.createToken({ name: 'admin (first start)', role: 'admin', purposes: [] })).token;
    }
    if (writeKey) await this.createSource('default', writeKey);
    else if ((await this.repo.countSources()) === 0) generated.writeKey = (await this.createSource('default')).writeKey;
    return { generated };
  }

  async createSource(name: string, writeKey = newSecret('wk'), actor = 'system'): Promise<{ id: string; writeKey: string }> {
    const id = uuidv7();
    await this.#audited((repo) => repo.insertSource({ id, name, write_key_hash: hashSecret(writeKey), created_at: Date.now(), revoked_at: null }), {
      actor,
      action: 'source.create',
      outcome: 'ok',
      details: { sourceId: id },
    });
    return { id, writeKey };
  }

  async createToken(
    spec: { name: string; role: Role; purposes: string[]; actor?: string },
    token = newSecret('ft'),
  ): Promise<{ id: string; token: string }> {
    const id = uuidv7();
    const row = {
      id,
      name: spec.name,
      role: spec.role,
      purposes: JSON.stringify(spec.purposes),
      token_hash: hashSecret(token),
      created_at: Date.now(),
      revoked_at: null,
    };
    await this.#audited((repo) => repo.insertToken(row), {
      actor: spec.actor ?? 'system',
      action: 'token.create',
      outcome: 'ok',
      details: { tokenId: id, role: spec.role, purposes: spec.purposes.join(',') },
    });
    return { id, token };
  }

  async sourceForWriteKey(writeKey: string): Promise<SourcesTable | null> {
    const hash = hashSecret(writeKey);
    const hit = this.#sources.get(hash);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.source;
    const source = await this.repo.sourceByKeyHash(hash);
    if (!source) {
      this.#sources.delete(hash);
      return null;
    }
    this.#sources.set(hash, { source, at: Date.now() });
    return source;
  }

  /** Tokens without their hashes, newest first. */
  async listTokens(): Promise<{ id: string; name: string; role: Role; purposes: string[]; createdAt: number; revokedAt: number | null }[]> {
    return (await this.repo.listTokens()).map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role as Role,
      purposes: JSON.parse(t.purposes) as string[],
      createdAt: Number(t.created_at),
      revokedAt: t.revoked_at === null ? null : Number(t.revoked_at),
    }));
  }

  /**
   * Revokes a token, audited as `token.revoke` in the same transaction. The last active admin token cannot be
   * revoked: nobody could manage tokens any more (the refusal is audited too).
   */
  async revokeToken(id: string, actor = 'system'): Promise<{ outcome: 'revoked' | 'not_found' | 'already_revoked' | 'last_admin'; role?: Role }> {
    const run = async (repo: AccessRepo, append: (e: AuditEntryInput) => Promise<void>) => {
      const row = await repo.tokenById(id);
      if (!row) return { outcome: 'not_found' as const };
      const role = row.role as Role;
      if (row.revoked_at !== null) return { outcome: 'already_revoked' as const, role };
      const details = { tokenId: id, role };
      if (role === 'admin' && (await repo.countTokens('admin')) <= 1) {
        await append({ actor, action: 'token.revoke', outcome: 'denied', details: { ...details, reason: 'last_admin' } });
        return { outcome: 'last_admin' as const, role };
      }
      if (!(await repo.revokeToken(id, Date.now()))) return { outcome: 'already_revoked' as const, role };
      await append({ actor, action: 'token.revoke', outcome: 'ok', details });
      return { outcome: 'revoked' as const, role };
    };
    const audit = this.audit;
    if (!audit) return run(this.repo, async () => undefined);
    return audit.db.transaction().execute((trx) => run(new AccessRepo(trx), (e) => audit.port.append(trx, [e])));
  }

  async tokenFor(token: string): Promise<TokensTable | null> {
    return (await this.repo.tokenByHash(hashSecret(token))) ?? null;
  }
}
