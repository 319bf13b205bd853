// Sources (write keys) and API tokens: creation, bootstrap from the environment, and lookup by hash.
import { createHash, randomBytes } from 'node:crypto';
import { uuidv7 } from '../domain/ids.ts';
import type { AccessRepo } from '../store/access-repo.ts';
import type { SourcesTable, TokensTable } from '../store/schema.ts';

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

  constructor(private readonly repo: AccessRepo) {}

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

  async createSource(name: string, writeKey = newSecret('wk')): Promise<{ id: string; writeKey: string }> {
    const id = uuidv7();
    await this.repo.insertSource({ id, name, write_key_hash: hashSecret(writeKey), created_at: Date.now(), revoked_at: null });
    return { id, writeKey };
  }

  async createToken(
    spec: { name: string; role: Role; purposes: string[] },
    token = newSecret('ft'),
  ): Promise<{ id: string; token: string }> {
    const id = uuidv7();
    await this.repo.insertToken({
      id,
      name: spec.name,
      role: spec.role,
      purposes: JSON.stringify(spec.purposes),
      token_hash: hashSecret(token),
      created_at: Date.now(),
      revoked_at: null,
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

  async tokenFor(token: string): Promise<TokensTable | null> {
    return (await this.repo.tokenByHash(hashSecret(token))) ?? null;
  }
}
