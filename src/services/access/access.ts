// Sources (write keys) and API tokens: creation, bootstrap from the environment, and lookup by hash.
import { createHash, randomBytes } from 'node:crypto';
import type { DataScope } from '../../store/scope.ts';
import { decryptField, encryptField } from '../../crypto/envelope.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { AccessRepo } from '../../store/access-repo.ts';
import type { SourceKind, SourcesTable, TokensTable } from '../../store/schema.ts';
import type { AuditEntryInput, AuditPort } from '../audit/audit-port.ts';

export type Role = 'admin' | 'dpo' | 'analyst' | 'service';

/** The token is suspended (exfiltration detection) until an admin reinstates it: 403 `FIDUCIA_TOKEN_SUSPENDED`. */
export class TokenSuspendedError extends FiduciaError {
  constructor(readonly tokenId: string) {
    super('FIDUCIA_TOKEN_SUSPENDED', 'this token is suspended: an admin must reinstate it (POST /api/v1/tokens/:id/reinstate)', { reason: 'token_suspended', tokenId });
    this.name = 'TokenSuspendedError';
  }
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString('base64url')}`;
}

/** `FIDUCIA_ADMIN_TOKEN` / `FIDUCIA_WRITE_KEY`: URL-safe, 16 characters or more. */
export const SECRET_FORMAT = /^[A-Za-z0-9_-]{16,}$/;

export interface Bootstrap {
  /**
   * Secrets generated on this start, printed once: the admin token and the server write key are stored only as
   * hashes; the browser key is public (kept in clear for the pages), its verification secret sealed.
   */
  generated: { adminToken?: string; writeKey?: string; browserWriteKey?: string; verificationSecret?: string };
}

/** A source as the write-key check sees it. */
export interface Source {
  id: string;
  name: string;
  kind: SourceKind;
  /** A browser source's key for `userHash` (HMAC-SHA256 of a userId); null for server sources. */
  verificationSecret: Buffer | null;
}

/** What an admin sees of a source: a browser source's key is public and shown; server keys and secrets never are. */
export interface SourceInfo {
  id: string;
  name: string;
  kind: SourceKind;
  writeKey: string | null;
  createdAt: number;
  revokedAt: number | null;
}

function sourceInfo(r: SourcesTable): SourceInfo {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    writeKey: r.kind === 'browser' && r.revoked_at === null ? r.public_key : null,
    createdAt: Number(r.created_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}

export interface CreatedSource {
  id: string;
  kind: SourceKind;
  writeKey: string;
  verificationSecret?: string;
}

const CACHE_TTL_MS = 30_000;

export class AccessService {
  #sources = new Map<string, { source: Source; at: number }>();

  /**
   * With `audit`, token and source changes commit together with their audit entry. `sealKey` seals browser
   * sources' verification secrets (derived from the master key, so a copy of the database alone cannot forge hashes).
   */
  constructor(
    private readonly repo: AccessRepo,
    private readonly sealKey: Buffer,
    private readonly audit?: { port: AuditPort; db: DataScope },
  ) {}

  /** Runs `write` on a repo inside a transaction and, if it wrote, appends `entry` in the same transaction. */
  async #audited(write: (repo: AccessRepo) => Promise<boolean>, entry: Parameters<AuditPort['append']>[1][number]): Promise<void> {
    const audit = this.audit;
    if (!audit) {
      await write(this.repo);
      return;
    }
    await audit.db.transaction(async (trx) => {
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
    else if ((await this.repo.countTokens('admin', true)) === 0) {
      generated.adminToken = (await this.createToken({ name: 'admin (first start)', role: 'admin', purposes: [] })).token;
    }
    if (writeKey) await this.createSource({ name: 'default', kind: 'server' }, writeKey);
    else if ((await this.repo.countSources('server')) === 0) generated.writeKey = (await this.createSource({ name: 'default', kind: 'server' })).writeKey;
    // Fiducia's own pages (privacy center, demo) and the widget on shop pages carry a browser key, never a server key.
    if ((await this.repo.countSources('browser', true)) === 0) {
      const browser = await this.createSource({ name: 'web pages', kind: 'browser' });
      generated.browserWriteKey = browser.writeKey;
      if (browser.verificationSecret) generated.verificationSecret = browser.verificationSecret;
    }
    return { generated };
  }

  #seal(sourceId: string, secret: string): Buffer {
    return encryptField(this.sealKey, 1, sourceId, 'verification-secret', Buffer.from(secret, 'utf8'));
  }

  #open(row: SourcesTable): Buffer | null {
    return row.verification_secret_enc ? decryptField(this.sealKey, row.id, 'verification-secret', row.verification_secret_enc) : null;
  }

  /** A new source; its key (and a browser source's verification secret) is returned once. */
  async createSource(spec: { name: string; kind: SourceKind; actor?: string }, writeKey?: string): Promise<CreatedSource> {
    const id = uuidv7();
    const key = writeKey ?? newSecret(spec.kind === 'browser' ? 'wkb' : 'wks');
    const secret = spec.kind === 'browser' ? newSecret('vs') : undefined;
    const row: SourcesTable = {
      id,
      name: spec.name,
      kind: spec.kind,
      write_key_hash: hashSecret(key),
      public_key: spec.kind === 'browser' ? key : null,
      verification_secret_enc: secret ? this.#seal(id, secret) : null,
      created_at: Date.now(),
      revoked_at: null,
    };
    await this.#audited((repo) => repo.insertSource(row), { actor: spec.actor ?? 'system', action: 'source.create', outcome: 'ok', details: { sourceId: id, kind: spec.kind } });
    return { id, kind: spec.kind, writeKey: key, ...(secret ? { verificationSecret: secret } : {}) };
  }

  async listSources(): Promise<SourceInfo[]> {
    return (await this.repo.listSources()).map(sourceInfo);
  }

  /** One source, revoked or not; null when there is no such source. */
  async source(id: string): Promise<SourceInfo | null> {
    const row = await this.repo.sourceById(id);
    return row ? sourceInfo(row) : null;
  }

  /**
   * A new write key for an active source (the old one stops at once in this process, within the lookup cache's
   * 30 seconds in others); a browser source also gets a new verification secret unless `keepSecret`.
   */
  async rotateSource(id: string, actor: string, keepSecret = false): Promise<CreatedSource | null> {
    let out: CreatedSource | null = null;
    await this.#audited(async (repo) => {
      const row = await repo.sourceById(id);
      if (!row || row.revoked_at !== null) return false;
      const key = newSecret(row.kind === 'browser' ? 'wkb' : 'wks');
      const secret = row.kind === 'browser' && !keepSecret ? newSecret('vs') : undefined;
      const ok = await repo.rotateSource(id, {
        write_key_hash: hashSecret(key),
        public_key: row.kind === 'browser' ? key : null,
        ...(secret ? { verification_secret_enc: this.#seal(id, secret) } : {}),
      });
      if (ok) out = { id, kind: row.kind, writeKey: key, ...(secret ? { verificationSecret: secret } : {}) };
      return ok;
    }, { actor, action: 'source.rotate', outcome: 'ok', details: { sourceId: id, verificationSecret: !keepSecret } });
    this.#sources.clear();
    return out;
  }

  async revokeSource(id: string, actor: string): Promise<'revoked' | 'not_found' | 'already_revoked'> {
    let outcome: 'revoked' | 'not_found' | 'already_revoked' = 'not_found';
    await this.#audited(async (repo) => {
      const row = await repo.sourceById(id);
      if (!row) return false;
      if (!(await repo.revokeSource(id, Date.now()))) {
        outcome = 'already_revoked';
        return false;
      }
      outcome = 'revoked';
      return true;
    }, { actor, action: 'source.revoke', outcome: 'ok', details: { sourceId: id } });
    this.#sources.clear();
    return outcome;
  }

  /** The public key of the browser source Fiducia's own pages carry, or null when every browser source is revoked. */
  async pagesWriteKey(): Promise<string | null> {
    return (await this.repo.oldestBrowserSource())?.public_key ?? null;
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
      suspended_at: null,
      suspended_reason: null,
    };
    await this.#audited((repo) => repo.insertToken(row), {
      actor: spec.actor ?? 'system',
      action: 'token.create',
      outcome: 'ok',
      details: { tokenId: id, role: spec.role, purposes: spec.purposes.join(',') },
    });
    return { id, token };
  }

  async sourceForWriteKey(writeKey: string): Promise<Source | null> {
    const hash = hashSecret(writeKey);
    const hit = this.#sources.get(hash);
    if (hit && Date.now() - hit.at < CACHE_TTL_MS) return hit.source;
    const row = await this.repo.sourceByKeyHash(hash);
    if (!row) {
      this.#sources.delete(hash);
      return null;
    }
    const source: Source = { id: row.id, name: row.name, kind: row.kind, verificationSecret: this.#open(row) };
    // Bounded: a stranger cycling keys only ever misses, and misses are not kept.
    if (this.#sources.size >= 1000) this.#sources.clear();
    this.#sources.set(hash, { source, at: Date.now() });
    return source;
  }

  /** Tokens without their hashes, newest first. */
  async listTokens(): Promise<{ id: string; name: string; role: Role; purposes: string[]; createdAt: number; revokedAt: number | null; suspendedAt: number | null; suspendedReason: string | null }[]> {
    return (await this.repo.listTokens()).map((t) => ({
      id: t.id,
      name: t.name,
      role: t.role as Role,
      purposes: JSON.parse(t.purposes) as string[],
      createdAt: Number(t.created_at),
      revokedAt: t.revoked_at === null ? null : Number(t.revoked_at),
      suspendedAt: t.suspended_at === null ? null : Number(t.suspended_at),
      suspendedReason: t.suspended_reason,
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
    return audit.db.transaction((trx) => run(new AccessRepo(trx), (e) => audit.port.append(trx, [e])));
  }

  /**
   * Suspends a token (exfiltration detection), audited as `token.suspend` in the same transaction. The last admin token
   * able to act is never suspended: nobody could reinstate anything (the refusal is audited instead).
   */
  async suspendToken(id: string, reason: string, details: Record<string, string | number>): Promise<'suspended' | 'not_active' | 'last_admin'> {
    const run = async (repo: AccessRepo, append: (e: AuditEntryInput) => Promise<void>) => {
      const row = await repo.tokenById(id);
      if (!row || row.revoked_at !== null || row.suspended_at !== null) return 'not_active' as const;
      const entry = { tokenId: id, role: row.role, reason, ...details };
      if (row.role === 'admin' && (await repo.countTokens('admin')) <= 1) {
        await append({ actor: 'system', action: 'token.suspend', outcome: 'denied', details: { ...entry, refused: 'last_admin' } });
        return 'last_admin' as const;
      }
      if (!(await repo.suspendToken(id, Date.now(), reason))) return 'not_active' as const;
      await append({ actor: 'system', action: 'token.suspend', outcome: 'ok', details: entry });
      return 'suspended' as const;
    };
    const audit = this.audit;
    if (!audit) return run(this.repo, async () => undefined);
    return audit.db.transaction((trx) => run(new AccessRepo(trx), (e) => audit.port.append(trx, [e])));
  }

  /** Lifts a suspension, audited as `token.reinstate` with the admin as actor. */
  async reinstateToken(id: string, actor: string): Promise<'reinstated' | 'not_found' | 'not_suspended'> {
    let outcome: 'reinstated' | 'not_found' | 'not_suspended' = 'not_found';
    await this.#audited(async (repo) => {
      const row = await repo.tokenById(id);
      if (!row) return false;
      outcome = (await repo.reinstateToken(id)) ? 'reinstated' : 'not_suspended';
      return outcome === 'reinstated';
    }, { actor, action: 'token.reinstate', outcome: 'ok', details: { tokenId: id } });
    return outcome;
  }

  /** A token's row without its hash, or null. */
  async tokenById(id: string): Promise<Omit<TokensTable, 'token_hash'> | null> {
    const row = await this.repo.tokenById(id);
    if (!row) return null;
    const { token_hash: _hash, ...rest } = row;
    return rest;
  }

  async tokenFor(token: string): Promise<TokensTable | null> {
    return (await this.repo.tokenByHash(hashSecret(token))) ?? null;
  }
}
