// Blind indexes: keyed HMAC of a normalized identity, so identities can be looked up without being stored in clear.
import { createHmac } from 'node:crypto';

export class BlindIndexer {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    this.#key = key;
  }
  /** 32-byte HMAC-SHA256 over `kind \0 normalizedValue`; the kind keeps an email and a userId with the same text apart. */
  index(kind: string, normalizedValue: string): Buffer {
    return createHmac('sha256', this.#key).update(`${kind}\u0000${normalizedValue}`, 'utf8').digest();
  }
}
