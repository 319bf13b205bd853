// Envelope encryption: AES-256-GCM field ciphertexts bound to subject and field, data keys wrapped by a versioned KEK.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { pooledRandomBytes } from '../domain/pooled-random-bytes.ts';

/**
 * Field ciphertext layout (format 1), stored as bytes:
 *   [0] 0x01 format · [1..4] u32 BE data-key version · [5..16] IV · [17..32] GCM tag · [33..] ciphertext
 * The AAD binds format, subject, field and key version, so a value copied to another subject's row
 * or another field fails authentication.
 */
const FIELD_FORMAT = 0x01;
const WRAP_FORMAT = 0x01;
// IVs are drawn from the shared random pool: each a distinct slice of fresh random bytes, never handed out twice.
const IV_LEN = 12;
const TAG_LEN = 16;
const HEADER_LEN = 1 + 4 + IV_LEN + TAG_LEN;

export class DecryptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptError';
  }
}

function fieldAad(subjectId: string, field: string, keyVersion: number): Buffer {
  return Buffer.from(`fiducia/f1|${subjectId.length}:${subjectId}|${field.length}:${field}|${keyVersion}`, 'utf8');
}

export function encryptField(
  key: Buffer,
  keyVersion: number,
  subjectId: string,
  field: string,
  plaintext: Buffer,
): Buffer {
  const iv = pooledRandomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(fieldAad(subjectId, field, keyVersion));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const out = Buffer.allocUnsafe(HEADER_LEN + ct.length);
  out[0] = FIELD_FORMAT;
  out.writeUInt32BE(keyVersion, 1);
  iv.copy(out, 5);
  cipher.getAuthTag().copy(out, 5 + IV_LEN);
  ct.copy(out, HEADER_LEN);
  return out;
}

/** The data-key version a field ciphertext was made with, so the right key can be fetched before decrypting. */
export function ciphertextKeyVersion(blob: Uint8Array): number {
  if (blob.length < HEADER_LEN || blob[0] !== FIELD_FORMAT) throw new DecryptError('unknown ciphertext format');
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(1);
}

export function decryptField(key: Buffer, subjectId: string, field: string, blob: Uint8Array): Buffer {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const version = ciphertextKeyVersion(buf);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(5, 5 + IV_LEN));
  decipher.setAAD(fieldAad(subjectId, field, version));
  decipher.setAuthTag(buf.subarray(5 + IV_LEN, HEADER_LEN));
  try {
    return Buffer.concat([decipher.update(buf.subarray(HEADER_LEN)), decipher.final()]);
  } catch {
    throw new DecryptError(`ciphertext for field "${field}" does not authenticate for this subject`);
  }
}

export function encryptJson(key: Buffer, keyVersion: number, subjectId: string, field: string, value: unknown): Buffer {
  return encryptField(key, keyVersion, subjectId, field, Buffer.from(JSON.stringify(value), 'utf8'));
}

export function decryptJson(key: Buffer, subjectId: string, field: string, blob: Uint8Array): unknown {
  return JSON.parse(decryptField(key, subjectId, field, blob).toString('utf8')) as unknown;
}

// ---- key hierarchy -------------------------------------------------------------------------

export function parseMasterKey(base64: string): Buffer {
  const key = Buffer.from(base64.trim(), 'base64');
  if (key.length !== 32) throw new Error('the master key must be 32 bytes, base64-encoded');
  return key;
}

export function newKeyMaterial(): Buffer {
  return randomBytes(32);
}

/** KEK version n = HKDF-SHA256(master, salt_n): rotating makes a new salt, so a new KEK, without a new master secret. */
export function deriveKek(master: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, 'fiducia/kek/v1', 32));
}

/** The key for blind indexes is fixed for the life of a master key: rotating the KEK must not re-index identities. */
export function deriveBlindIndexKey(master: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), 'fiducia/blind-index/v1', 32));
}

/** A check value stored beside each KEK version, to refuse a wrong master key at start instead of failing later. */
export function kekCheckValue(kek: Buffer): Buffer {
  return createHmac('sha256', kek).update('fiducia/kek-check').digest();
}

export function kekMatches(kek: Buffer, check: Uint8Array): boolean {
  const expected = kekCheckValue(kek);
  return check.length === expected.length && timingSafeEqual(expected, check);
}

function wrapAad(subjectId: string, dataKeyVersion: number, kekVersion: number): Buffer {
  return Buffer.from(`fiducia/dk1|${subjectId.length}:${subjectId}|${dataKeyVersion}|${kekVersion}`, 'utf8');
}

/** Wrapped data key: [0] 0x01 · IV(12) · tag(16) · ciphertext(32). */
export function wrapDataKey(
  kek: Buffer,
  kekVersion: number,
  subjectId: string,
  dataKeyVersion: number,
  dataKey: Buffer,
): Buffer {
  const iv = pooledRandomBytes(IV_LEN);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(wrapAad(subjectId, dataKeyVersion, kekVersion));
  const ct = Buffer.concat([cipher.update(dataKey), cipher.final()]);
  return Buffer.concat([Buffer.from([WRAP_FORMAT]), iv, cipher.getAuthTag(), ct]);
}

export function unwrapDataKey(
  kek: Buffer,
  kekVersion: number,
  subjectId: string,
  dataKeyVersion: number,
  wrapped: Uint8Array,
): Buffer {
  const buf = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  if (buf[0] !== WRAP_FORMAT || buf.length !== 1 + IV_LEN + TAG_LEN + 32) throw new DecryptError('unknown wrapped-key format');
  const decipher = createDecipheriv('aes-256-gcm', kek, buf.subarray(1, 1 + IV_LEN));
  decipher.setAAD(wrapAad(subjectId, dataKeyVersion, kekVersion));
  decipher.setAuthTag(buf.subarray(1 + IV_LEN, 1 + IV_LEN + TAG_LEN));
  try {
    return Buffer.concat([decipher.update(buf.subarray(1 + IV_LEN + TAG_LEN)), decipher.final()]);
  } catch {
    throw new DecryptError('data key does not unwrap with this KEK');
  }
}
