// Compressed request bodies (`Content-Encoding: gzip`, as RudderStack's Node SDK sends by default), decompressed under
// the route's own body limit: the limit bounds what comes out, not only what goes in, so a zip bomb stops at the limit.
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FiduciaError } from './errors.ts';

const gunzipBounded = promisify(gunzip);

/** Reads a request stream whole, refusing it as soon as it passes `limit` bytes. */
async function readBounded(payload: AsyncIterable<Buffer | string>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of payload) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    size += buf.length;
    if (size > limit) throw new FiduciaError('FIDUCIA_BODY_TOO_LARGE', 'the request body is too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks, size);
}

/** The one encoding besides none that is accepted; anything else is named in a 415. */
function encodingOf(req: FastifyRequest): 'gzip' | null {
  const header = req.headers['content-encoding'];
  if (header === undefined) return null;
  const value = header.length <= 32 ? header.trim().toLowerCase() : 'too long';
  if (value === '' || value === 'identity') return null;
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  throw new FiduciaError('FIDUCIA_UNSUPPORTED_MEDIA_TYPE', 'Content-Encoding must be gzip or none');
}

/**
 * Decompresses gzip bodies of the routes registered on `app` (one encapsulation context) before they are parsed. The
 * compressed body is bounded by the route's body limit, and so is the decompressed one (zlib's `maxOutputLength`
 * stops inflating there); a broken stream is a 400, never a 500.
 */
export function registerContentDecoding(app: FastifyInstance): void {
  app.addHook('preParsing', async (req, _reply, payload) => {
    if (encodingOf(req) === null) return payload;
    const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024;
    const compressed = await readBounded(payload, limit);
    let body: Buffer;
    try {
      body = await gunzipBounded(compressed, { maxOutputLength: limit });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new FiduciaError('FIDUCIA_BODY_TOO_LARGE', `the decompressed body is larger than ${limit} bytes`);
      }
      throw new FiduciaError('FIDUCIA_INVALID_JSON', 'the body is not valid gzip');
    }
    // Fastify checks Content-Length against the bytes received on the wire, which it reads from this property.
    return Object.assign(Readable.from([body]), { receivedEncodedLength: compressed.length });
  });
}
