// The one JSON body parser: strict JSON, a nesting-depth limit and no prototype keys, checked before anything reads the body.
import type { FastifyInstance } from 'fastify';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../domain/segment-message.ts';
import { FiduciaError } from './errors.ts';

function rejectProtoKeys(_key: string, value: unknown): unknown {
  if (_key === '__proto__' || (_key === 'constructor' && typeof value === 'object' && value !== null && 'prototype' in value)) {
    throw new FiduciaError('FIDUCIA_INVALID_JSON', 'the body uses a reserved key (__proto__ or constructor.prototype)');
  }
  return value;
}

export function parseJsonBody(text: string): unknown {
  if (text.length === 0) throw new FiduciaError('FIDUCIA_INVALID_JSON', 'the body is empty');
  let value: unknown;
  try {
    // The reviver is slow, so it only runs on the rare bodies that may spell a dangerous key (escapes included).
    const suspicious = text.includes('__proto__') || text.includes('prototype') || text.includes('\\u');
    value = suspicious ? JSON.parse(text, rejectProtoKeys) : JSON.parse(text);
  } catch (err) {
    if (err instanceof FiduciaError) throw err;
    throw new FiduciaError('FIDUCIA_INVALID_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) {
    throw new FiduciaError('FIDUCIA_JSON_TOO_DEEP', `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`);
  }
  return value;
}

/**
 * JSON and text/plain (browser SDKs send text/plain to avoid a CORS preflight) are both parsed as JSON.
 * Anything else is refused with 415.
 */
export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['application/json', 'text/plain'], { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser('*', (_req, _payload, done) => {
    done(new FiduciaError('FIDUCIA_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), undefined);
  });
}

/**
 * Parses `application/x-www-form-urlencoded` bodies that are JSON objects, as JSON, on the routes of `app` (one
 * encapsulation context): RudderStack's Node SDK labels its (JSON) batches so by default. A real form is still a 415.
 */
export function parseFormLabelledJson(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (!text.trimStart().startsWith('{')) {
      done(new FiduciaError('FIDUCIA_UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json'), undefined);
      return;
    }
    try {
      done(null, parseJsonBody(text));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
