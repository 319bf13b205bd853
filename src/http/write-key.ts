// Write-key authentication for ingestion and consent (HTTP Basic user, Segment's way, or `writeKey` in the body), and
// what a source may assert about who its caller is.
import type { FastifyRequest } from 'fastify';
import { userHashMatches } from '../crypto/user-hash.ts';
import type { IdentityAssertion } from '../domain/identity.ts';
import type { JsonObject } from '../domain/segment-message.ts';
import type { AccessService, Source } from '../services/access/access.ts';
import type { Metrics } from '../services/metrics.ts';
import { FiduciaError } from './errors.ts';

/** Longer than any key Fiducia issues or accepts: a longer value is not looked up (nor hashed) at all. */
const MAX_WRITE_KEY_LENGTH = 256;

export function writeKeyOf(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Basic ') && auth.length <= MAX_WRITE_KEY_LENGTH * 2) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8');
    const user = decoded.split(':')[0] ?? '';
    if (user) return user;
  }
  const body = req.body;
  if (body && typeof body === 'object' && 'writeKey' in body && typeof body.writeKey === 'string' && body.writeKey) {
    return body.writeKey;
  }
  return null;
}

/** The source behind the request's write key, or a 401; failures are counted (never audited: a public route). */
export async function requireSource(req: FastifyRequest, access: AccessService, metrics?: Metrics): Promise<Source> {
  const key = writeKeyOf(req);
  if (!key) {
    metrics?.authFailures.inc({ credential: 'write_key', reason: 'missing_write_key' });
    throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'a write key is required (HTTP Basic user or writeKey)');
  }
  const source = await knownSource(key, access, metrics);
  if (!source) throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'unknown write key');
  return source;
}

/** The active source of a write key, or null (counted) for an unknown, revoked or over-long one: all look the same. */
export async function knownSource(key: string, access: AccessService, metrics?: Metrics): Promise<Source | null> {
  const source = key.length <= MAX_WRITE_KEY_LENGTH ? await access.sourceForWriteKey(key) : null;
  if (!source) metrics?.authFailures.inc({ credential: 'write_key', reason: 'unknown_write_key' });
  return source;
}

/** `context.fiducia.userHash`, where a browser page passes the proof its shop's server computed. */
export function userHashIn(context: JsonObject | null | undefined): unknown {
  const f = context?.fiducia;
  return f && typeof f === 'object' && !Array.isArray(f) ? f.userHash : undefined;
}

/**
 * How a source asserts a userId: a server source's word is enough; a browser source's only with the userId's
 * `userHash` under that source's verification secret. Null: the userId is not asserted and must not be used.
 */
export function userIdAssertion(source: Source, userId: string, hash: unknown): IdentityAssertion | null {
  if (source.kind === 'server') return 'server';
  return source.verificationSecret && userHashMatches(source.verificationSecret, userId, hash) ? 'verified_hash' : null;
}
