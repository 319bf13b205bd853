// Write-key authentication for ingestion and consent: HTTP Basic user (Segment's way) or `writeKey` in the body.
import type { FastifyRequest } from 'fastify';
import type { AccessService } from '../services/access.ts';
import type { SourcesTable } from '../store/schema.ts';
import { FiduciaError } from './errors.ts';

export function writeKeyOf(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Basic ')) {
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

export async function requireSource(req: FastifyRequest, access: AccessService): Promise<SourcesTable> {
  const key = writeKeyOf(req);
  if (!key) throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'a write key is required (HTTP Basic user or writeKey)');
  const source = await access.sourceForWriteKey(key);
  if (!source) throw new FiduciaError('FIDUCIA_UNAUTHORIZED', 'unknown write key');
  return source;
}
