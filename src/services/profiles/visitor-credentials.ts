// Visitor credentials (docs/security.md, "Visitor credentials"): a visitor proves the secret its browser holds and gets a
// short-lived credential that reads its own profile, and nobody else's, for the purposes open to self-reads.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IdentityRef } from '../../domain/identity.ts';
import { FiduciaError } from '../../domain/errors.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditRecorder } from '../audit/audit-port.ts';
import { VisitorKeyRepo } from '../../store/visitor-key-repo.ts';
import type { ProfileService, ProfileView } from './profiles.ts';

/** The browser's secret: 32 random bytes as base64url (43 characters); the route's schema uses the same text. */
export const VISITOR_SECRET_PATTERN = '^[A-Za-z0-9_-]{43}$';
const SECRET = /^[A-Za-z0-9_-]{43}$/;
/** `fv1.<subject id>.<expiry, ms, base 36>.<HMAC-SHA256, base64url>`; bounded before it is matched. */
const CREDENTIAL = /^fv1\.([0-9A-Za-z-]{1,64})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;
export const VISITOR_CREDENTIAL_MAX_LENGTH = 140;
const DEFAULT_TTL_MS = 10 * 60_000;

export interface VisitorCredentialDeps {
  db: DataScope;
  profiles: ProfileService;
  /** Where bindings are recorded (who bound a key to which subject, how); reads are audited by the profile service. */
  audit: AuditRecorder;
  /** Purposes a visitor may read its own profile for; the policy engine still withholds what consent does not allow. */
  purposes: readonly string[];
  ttlMs?: number | undefined;
  now?: (() => number) | undefined;
}

export interface MintedCredential {
  credential: string;
  expiresAt: string;
  purposes: string[];
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
const mac = (key: Buffer, body: string) => createHmac('sha256', key).update(body, 'utf8').digest('base64url');
const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);
const unauthorized = () => new FiduciaError('FIDUCIA_UNAUTHORIZED', 'the visitor credential is missing, invalid or expired');

export class VisitorCredentials {
  readonly #keys: VisitorKeyRepo;
  readonly #now: () => number;
  readonly #ttl: number;

  constructor(private readonly deps: VisitorCredentialDeps) {
    this.#keys = new VisitorKeyRepo(deps.db);
    this.#now = deps.now ?? Date.now;
    this.#ttl = deps.ttlMs ?? DEFAULT_TTL_MS;
  }

  get purposes(): readonly string[] {
    return this.deps.purposes;
  }

  /**
   * A credential for the subject behind `ref`, against the browser's secret. The first secret binds (only while no event
   * or trait of the subject is stored: until then its anonymousId has reached no destination); later ones must match it. A
   * verified identity (server source or valid userHash) may bind a new secret, which voids every earlier credential.
   */
  async mint(ref: IdentityRef, verified: boolean, secret: string, sourceId: string): Promise<MintedCredential> {
    if (secret.length !== 43 || !SECRET.test(secret)) throw new FiduciaError('FIDUCIA_VALIDATION', 'the visitor secret must be 32 random bytes as base64url');
    const subjectId = await this.deps.profiles.subjectIdOf(ref);
    if (!subjectId) throw new FiduciaError('FIDUCIA_NOT_FOUND', 'Fiducia has no profile for this visitor yet');
    const hash = sha256(secret);
    let row = await this.#keys.get(subjectId);
    if (!row || (verified && !sameBytes(row.secret_hash, hash))) {
      const fresh = { subject_id: subjectId, secret_hash: hash, signing_key: randomBytes(32), bound_by: verified ? 'verified' : 'browser', bound_at: this.#now() };
      let bound = true;
      if (verified) await this.#keys.rebind(fresh);
      else if (await this.#keys.hasData(subjectId)) {
        throw new FiduciaError('FIDUCIA_FORBIDDEN', 'this visitor has no key and a browser can no longer bind one: sign in (userHash) to bind it', { reason: 'key_not_bindable' });
      } else bound = await this.#keys.bindFirst(fresh);
      if (bound) await this.deps.audit.record([{ actor: `source:${sourceId}`, action: 'visitor.key_bound', subjectId, outcome: 'ok', details: { boundBy: fresh.bound_by } }]);
      row = await this.#keys.get(subjectId);
    }
    // A concurrent first binding may have won: the secret must be the one stored.
    if (!row || !sameBytes(row.secret_hash, hash)) throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'the visitor secret does not match the one bound to this visitor');
    const expires = this.#now() + this.#ttl;
    const body = `fv1.${subjectId}.${expires.toString(36)}`;
    return { credential: `${body}.${mac(row.signing_key, body)}`, expiresAt: new Date(expires).toISOString(), purposes: [...this.deps.purposes] };
  }

  /** The subject a credential names, if its signature holds under the subject's current key and it has not expired. */
  async #subjectOf(credential: string): Promise<string> {
    if (credential.length > VISITOR_CREDENTIAL_MAX_LENGTH) throw unauthorized();
    const m = CREDENTIAL.exec(credential);
    if (!m) throw unauthorized();
    const [, subjectId, exp, sig] = m as unknown as [string, string, string, string];
    if (Number.parseInt(exp, 36) <= this.#now()) throw unauthorized();
    // After erasure (or a re-binding) the key is gone or new: the credential no longer verifies.
    const row = await this.#keys.get(subjectId);
    if (!row || !sameBytes(Buffer.from(mac(row.signing_key, `fv1.${subjectId}.${exp}`)), Buffer.from(sig))) throw unauthorized();
    return subjectId;
  }

  /** The visitor's own profile for a purpose open to self-reads, audited as read by the visitor. */
  async read(credential: string, purpose: string): Promise<ProfileView> {
    const subjectId = await this.#subjectOf(credential);
    if (!this.deps.purposes.includes(purpose)) throw new FiduciaError('FIDUCIA_PURPOSE_NOT_ALLOWED', `a visitor may not read its profile for "${purpose}"`);
    return this.deps.profiles.readSubject(subjectId, purpose, { tokenId: 'visitor', role: 'service', purposes: [purpose], auditRole: 'visitor' });
  }
}
