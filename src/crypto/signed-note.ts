// Signed checkpoints of the audit log, in the C2SP signed-note and tlog-checkpoint formats, with Ed25519 (node:crypto).
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';

/**
 * A checkpoint note (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note):
 *
 *   <origin>\n<tree size>\n<base64 root hash>\ntime <epoch ms>\n
 *   \n
 *   — <key name> <base64(4-byte key hash ‖ 64-byte Ed25519 signature)>\n
 *
 * The signature covers the text above the blank line. `time` is an extension line of ours.
 */
export interface Checkpoint {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  /** Epoch ms when it was signed. */
  timestamp: number;
}

export interface SignedCheckpoint extends Checkpoint {
  /** Hex of the signed-note key hash (first 4 bytes of SHA-256(name ‖ \n ‖ 0x01 ‖ public key)). */
  keyId: string;
  signature: Buffer;
  note: string;
}

const ED25519 = 0x01;
const SIG_PREFIX = '\u2014 ';
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export function noteKeyHash(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256').update(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([ED25519]), publicKey])).digest().subarray(0, 4);
}

export function rawPublicKey(key: KeyObject): Buffer {
  const der = key.export({ format: 'der', type: 'spki' });
  return Buffer.from(der.subarray(der.length - 32));
}

export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** The origin line names the log: one per signing key, so checkpoints of two installations never mix. */
export function originFor(publicKey: Buffer): string {
  return `fiducia/audit/${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;
}

export function checkpointBody(c: Checkpoint): string {
  if (/[\n\u2014]/.test(c.origin)) throw new Error('invalid origin');
  return `${c.origin}\n${c.treeSize}\n${c.rootHash.toString('base64')}\ntime ${c.timestamp}\n`;
}

/** Verifies checkpoint notes against one known public key. */
export class CheckpointVerifier {
  readonly publicKey: Buffer;
  readonly origin: string;
  readonly keyId: string;
  readonly #key: KeyObject;
  readonly #keyHash: Buffer;

  constructor(publicKey: Buffer) {
    this.publicKey = publicKey;
    this.#key = publicKeyFromRaw(publicKey);
    this.origin = originFor(publicKey);
    this.#keyHash = noteKeyHash(this.origin, publicKey);
    this.keyId = this.#keyHash.toString('hex');
  }

  /** The checkpoint if the note parses and carries a valid signature by this key; otherwise why not. */
  open(note: string): { ok: true; checkpoint: SignedCheckpoint } | { ok: false; reason: string } {
    const split = note.indexOf('\n\n');
    if (split < 0) return { ok: false, reason: 'not a signed note (no blank line before the signatures)' };
    const body = note.slice(0, split + 1);
    const lines = body.split('\n');
    const [origin, sizeText, rootText, timeLine] = lines;
    if (lines.length < 4 || origin === undefined || sizeText === undefined || rootText === undefined) return { ok: false, reason: 'malformed checkpoint body' };
    if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) return { ok: false, reason: 'malformed tree size' };
    const rootHash = Buffer.from(rootText, 'base64');
    if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) return { ok: false, reason: 'malformed root hash' };
    const time = /^time (0|[1-9][0-9]{0,15})$/.exec(timeLine ?? '');
    if (!time) return { ok: false, reason: 'missing time line' };
    if (origin !== this.origin) return { ok: false, reason: `checkpoint of another log (${origin})` };
    for (const line of note.slice(split + 2).split('\n')) {
      if (line === '') continue;
      if (!line.startsWith(SIG_PREFIX)) return { ok: false, reason: 'malformed signature line' };
      const [name, b64] = line.slice(SIG_PREFIX.length).split(' ');
      if (name !== this.origin || b64 === undefined) continue; // signatures by other keys (witnesses) are ignored
      const sig = Buffer.from(b64, 'base64');
      if (sig.length !== 68 || !sig.subarray(0, 4).equals(this.#keyHash)) continue;
      const signature = sig.subarray(4);
      if (!verify(null, Buffer.from(body, 'utf8'), this.#key, signature)) return { ok: false, reason: 'signature does not verify' };
      const c: Checkpoint = { origin, treeSize: Number(sizeText), rootHash, timestamp: Number(time[1]) };
      return { ok: true, checkpoint: { ...c, keyId: this.keyId, signature, note } };
    }
    return { ok: false, reason: 'no signature by this log key' };
  }
}

/** The log's signing key: signs checkpoint notes. The private key never leaves this object unwrapped. */
export class CheckpointSigner extends CheckpointVerifier {
  readonly #private: KeyObject;

  constructor(privateKey: KeyObject) {
    super(rawPublicKey(createPublicKey(privateKey)));
    this.#private = privateKey;
  }

  static generate(): { signer: CheckpointSigner; pkcs8: Buffer } {
    const { privateKey } = generateKeyPairSync('ed25519');
    return { signer: new CheckpointSigner(privateKey), pkcs8: privateKey.export({ format: 'der', type: 'pkcs8' }) };
  }

  static fromPkcs8(pkcs8: Buffer): CheckpointSigner {
    return new CheckpointSigner(createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }));
  }

  sign(treeSize: number, rootHash: Buffer, timestamp: number): SignedCheckpoint {
    const c: Checkpoint = { origin: this.origin, treeSize, rootHash, timestamp };
    const body = checkpointBody(c);
    const signature = sign(null, Buffer.from(body, 'utf8'), this.#private);
    const keyHash = Buffer.from(this.keyId, 'hex');
    const note = `${body}\n${SIG_PREFIX}${this.origin} ${Buffer.concat([keyHash, signature]).toString('base64')}\n`;
    return { ...c, keyId: this.keyId, signature, note };
  }
}

// ---- wrapping the private key with the master key -------------------------------------------------------------

const WRAP_FORMAT = 0x01;

function wrapKey(master: Buffer, salt: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', master, salt, 'fiducia/audit-signing/v1', 32));
}

/** [0] 0x01 · salt(32) · IV(12) · tag(16) · AES-256-GCM(PKCS#8), AAD bound to the key id. */
export function wrapSigningKey(master: Buffer, keyId: string, pkcs8: Buffer): Buffer {
  const salt = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', wrapKey(master, salt), iv);
  cipher.setAAD(Buffer.from(`fiducia/audit-key|${keyId}`, 'utf8'));
  const ct = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
  return Buffer.concat([Buffer.from([WRAP_FORMAT]), salt, iv, cipher.getAuthTag(), ct]);
}

export function unwrapSigningKey(master: Buffer, keyId: string, wrapped: Uint8Array): Buffer {
  const b = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
  if (b[0] !== WRAP_FORMAT || b.length < 1 + 32 + 12 + 16 + 1) throw new Error('unknown wrapped signing-key format');
  const decipher = createDecipheriv('aes-256-gcm', wrapKey(master, b.subarray(1, 33)), b.subarray(33, 45));
  decipher.setAAD(Buffer.from(`fiducia/audit-key|${keyId}`, 'utf8'));
  decipher.setAuthTag(b.subarray(45, 61));
  try {
    return Buffer.concat([decipher.update(b.subarray(61)), decipher.final()]);
  } catch {
    throw new Error('the audit signing key does not unwrap with this master key');
  }
}
