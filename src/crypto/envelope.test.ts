import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BlindIndexer } from './blind-index.ts';
import {
  DecryptError,
  ciphertextKeyVersion,
  decryptField,
  decryptJson,
  deriveBlindIndexKey,
  deriveKek,
  encryptField,
  encryptJson,
  kekCheckValue,
  kekMatches,
  newKeyMaterial,
  parseMasterKey,
  unwrapDataKey,
  wrapDataKey,
} from './envelope.ts';

const key32 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a));
const text = fc.string({ unit: 'binary', maxLength: 40 });
const version = fc.integer({ min: 0, max: 0xffffffff });
const bytes = fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a));
/** JSON values that survive a JSON round trip unchanged (no -0, no undefined). */
const jsonValue = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown);

describe('field encryption', () => {
  it('round-trips random bytes for any subject, field and key version', () => {
    fc.assert(
      fc.property(key32, version, text, text, bytes, (key, v, subject, field, plain) => {
        const blob = encryptField(key, v, subject, field, plain);
        assert.equal(ciphertextKeyVersion(blob), v);
        assert.deepEqual(decryptField(key, subject, field, blob), plain);
      }),
    );
  });

  it('round-trips JSON values', () => {
    fc.assert(
      fc.property(key32, version, text, text, jsonValue, (key, v, subject, field, value) => {
        const blob = encryptJson(key, v, subject, field, value);
        assert.deepEqual(decryptJson(key, subject, field, blob), value);
      }),
    );
  });

  it('decrypts from a Uint8Array view into a larger buffer (as drivers hand out blobs)', () => {
    const key = newKeyMaterial();
    const blob = encryptJson(key, 3, 's', 'trait:email', 'a@b.it');
    const big = new Uint8Array(blob.length + 20);
    big.set(blob, 7);
    const view = big.subarray(7, 7 + blob.length);
    assert.equal(ciphertextKeyVersion(view), 3);
    assert.equal(decryptJson(key, 's', 'trait:email', view), 'a@b.it');
  });

  it('uses a fresh IV each time: the same input twice gives different ciphertexts', () => {
    const key = newKeyMaterial();
    const plain = Buffer.from('same plaintext');
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(encryptField(key, 1, 'subject', 'trait:x', plain).toString('hex'));
    assert.equal(seen.size, 200);
    const a = encryptField(key, 1, 'subject', 'trait:x', plain);
    const b = encryptField(key, 1, 'subject', 'trait:x', plain);
    assert.notDeepEqual(a.subarray(5, 17), b.subarray(5, 17), 'IVs differ');
  });

  it('carries format byte 0x01 and the key version in a 33-byte header', () => {
    fc.assert(
      fc.property(key32, version, bytes, (key, v, plain) => {
        const blob = encryptField(key, v, 's', 'f', plain);
        assert.equal(blob[0], 0x01);
        assert.equal(blob.readUInt32BE(1), v);
        assert.equal(ciphertextKeyVersion(blob), v);
        assert.equal(blob.length, 33 + plain.length);
      }),
    );
  });

  it('refuses unknown formats and short blobs', () => {
    const key = newKeyMaterial();
    const blob = encryptField(key, 1, 's', 'f', Buffer.from('x'));
    const other = Buffer.from(blob);
    other[0] = 0x02;
    assert.throws(() => ciphertextKeyVersion(other), DecryptError);
    assert.throws(() => decryptField(key, 's', 'f', other), DecryptError);
    assert.throws(() => ciphertextKeyVersion(blob.subarray(0, 32)), DecryptError);
    assert.throws(() => decryptField(key, 's', 'f', blob.subarray(0, 20)), DecryptError);
    assert.throws(() => decryptField(key, 's', 'f', new Uint8Array(0)), DecryptError);
  });

  it('fails with another subject id', () => {
    fc.assert(
      fc.property(key32, version, text, text, text, bytes, (key, v, subject, other, field, plain) => {
        fc.pre(subject !== other);
        const blob = encryptField(key, v, subject, field, plain);
        assert.throws(() => decryptField(key, other, field, blob), DecryptError);
      }),
    );
  });

  it('fails with another field name', () => {
    fc.assert(
      fc.property(key32, version, text, text, text, bytes, (key, v, subject, field, other, plain) => {
        fc.pre(field !== other);
        const blob = encryptField(key, v, subject, field, plain);
        assert.throws(() => decryptField(key, subject, other, blob), DecryptError);
      }),
    );
  });

  it('fails with another key', () => {
    fc.assert(
      fc.property(key32, key32, bytes, (key, other, plain) => {
        fc.pre(!key.equals(other));
        const blob = encryptField(key, 1, 's', 'f', plain);
        assert.throws(() => decryptField(other, 's', 'f', blob), DecryptError);
      }),
    );
  });

  it('fails when any single bit of the blob is flipped (header, IV, tag or body)', () => {
    fc.assert(
      fc.property(key32, version, bytes, fc.nat(), fc.integer({ min: 0, max: 7 }), (key, v, plain, at, bit) => {
        const blob = encryptField(key, v, 'subject', 'trait:email', plain);
        const tampered = Buffer.from(blob);
        const i = at % tampered.length;
        tampered[i] = tampered[i]! ^ (1 << bit);
        assert.throws(() => decryptField(key, 'subject', 'trait:email', tampered), DecryptError);
      }),
    );
  });

  it('fails on every bit position of one small blob (exhaustive)', () => {
    const key = newKeyMaterial();
    const blob = encryptJson(key, 7, 'subject', 'event:1', { a: 1 });
    for (let i = 0; i < blob.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = Buffer.from(blob);
        t[i] = t[i]! ^ (1 << bit);
        assert.throws(() => decryptJson(key, 'subject', 'event:1', t), DecryptError, `byte ${i} bit ${bit}`);
      }
    }
  });

  it('fails when the blob is truncated or extended', () => {
    const key = newKeyMaterial();
    const blob = encryptJson(key, 1, 's', 'f', 'some value');
    assert.throws(() => decryptField(key, 's', 'f', blob.subarray(0, blob.length - 1)), DecryptError);
    assert.throws(() => decryptField(key, 's', 'f', Buffer.concat([blob, Buffer.from([0])])), DecryptError);
  });
});

describe('data-key wrapping', () => {
  it('round-trips and is bound to subject, data-key version and KEK version', () => {
    fc.assert(
      fc.property(key32, key32, text, fc.nat(), fc.nat(), (kek, dataKey, subject, dkv, kv) => {
        const wrapped = wrapDataKey(kek, kv, subject, dkv, dataKey);
        assert.equal(wrapped.length, 1 + 12 + 16 + 32);
        assert.equal(wrapped[0], 0x01);
        assert.deepEqual(unwrapDataKey(kek, kv, subject, dkv, wrapped), dataKey);
        assert.throws(() => unwrapDataKey(kek, kv, `${subject}x`, dkv, wrapped), DecryptError);
        assert.throws(() => unwrapDataKey(kek, kv, subject, dkv + 1, wrapped), DecryptError);
        assert.throws(() => unwrapDataKey(kek, kv + 1, subject, dkv, wrapped), DecryptError);
      }),
    );
  });

  it('fails with another KEK, a flipped bit or a wrong length', () => {
    const kek = newKeyMaterial();
    const dk = newKeyMaterial();
    const wrapped = wrapDataKey(kek, 1, 's', 1, dk);
    assert.throws(() => unwrapDataKey(newKeyMaterial(), 1, 's', 1, wrapped), DecryptError);
    for (let i = 0; i < wrapped.length; i++) {
      const t = Buffer.from(wrapped);
      t[i] = t[i]! ^ 0x10;
      assert.throws(() => unwrapDataKey(kek, 1, 's', 1, t), DecryptError, `byte ${i}`);
    }
    assert.throws(() => unwrapDataKey(kek, 1, 's', 1, wrapped.subarray(0, wrapped.length - 1)), DecryptError);
  });

  it('wraps the same key differently each time (fresh IV)', () => {
    const kek = newKeyMaterial();
    const dk = newKeyMaterial();
    assert.notDeepEqual(wrapDataKey(kek, 1, 's', 1, dk), wrapDataKey(kek, 1, 's', 1, dk));
  });
});

describe('key hierarchy', () => {
  it('deriveKek is deterministic and differs with the salt and with the master key', () => {
    const master = newKeyMaterial();
    const salt = randomBytes(32);
    assert.deepEqual(deriveKek(master, salt), deriveKek(master, Buffer.from(salt)));
    assert.equal(deriveKek(master, salt).length, 32);
    assert.notDeepEqual(deriveKek(master, salt), deriveKek(master, randomBytes(32)));
    assert.notDeepEqual(deriveKek(master, salt), deriveKek(newKeyMaterial(), salt));
    fc.assert(
      fc.property(key32, key32, key32, (m, s1, s2) => {
        fc.pre(!s1.equals(s2));
        assert.notDeepEqual(deriveKek(m, s1), deriveKek(m, s2));
      }),
    );
  });

  it('kekMatches accepts its own check value only', () => {
    const kek = deriveKek(newKeyMaterial(), randomBytes(32));
    const check = kekCheckValue(kek);
    assert.equal(kekMatches(kek, check), true);
    assert.equal(kekMatches(kek, new Uint8Array(check)), true);
    assert.equal(kekMatches(deriveKek(newKeyMaterial(), randomBytes(32)), check), false);
    const flipped = Buffer.from(check);
    flipped[0] = flipped[0]! ^ 1;
    assert.equal(kekMatches(kek, flipped), false);
    assert.equal(kekMatches(kek, check.subarray(0, 16)), false);
    assert.equal(kekMatches(kek, Buffer.alloc(0)), false);
  });

  it('the blind-index key does not depend on KEK salts and differs from any KEK', () => {
    const master = newKeyMaterial();
    assert.deepEqual(deriveBlindIndexKey(master), deriveBlindIndexKey(Buffer.from(master)));
    assert.notDeepEqual(deriveBlindIndexKey(master), deriveBlindIndexKey(newKeyMaterial()));
    assert.notDeepEqual(deriveBlindIndexKey(master), deriveKek(master, Buffer.alloc(0)));
  });

  it('parseMasterKey accepts exactly 32 base64 bytes', () => {
    const raw = randomBytes(32);
    assert.deepEqual(parseMasterKey(raw.toString('base64')), raw);
    assert.deepEqual(parseMasterKey(`  ${raw.toString('base64')}\n`), raw, 'a key file with a newline');
    for (const n of [0, 1, 16, 31, 33, 64]) {
      assert.throws(() => parseMasterKey(randomBytes(n).toString('base64')), /32 bytes/, `${n} bytes`);
    }
    assert.throws(() => parseMasterKey('not a key'), /32 bytes/);
    assert.throws(() => parseMasterKey(''), /32 bytes/);
  });
});

describe('BlindIndexer', () => {
  it('is deterministic and 32 bytes long', () => {
    fc.assert(
      fc.property(key32, text, text, (key, kind, value) => {
        const a = new BlindIndexer(key).index(kind, value);
        const b = new BlindIndexer(Buffer.from(key)).index(kind, value);
        assert.equal(a.length, 32);
        assert.deepEqual(a, b);
      }),
    );
  });

  it('differs by kind, by value and by key', () => {
    const key = newKeyMaterial();
    const bi = new BlindIndexer(key);
    assert.notDeepEqual(bi.index('email', 'ada@example.com'), bi.index('userId', 'ada@example.com'));
    assert.notDeepEqual(bi.index('email', 'ada@example.com'), bi.index('email', 'bob@example.com'));
    assert.notDeepEqual(bi.index('email', 'ada@example.com'), new BlindIndexer(newKeyMaterial()).index('email', 'ada@example.com'));
    fc.assert(
      fc.property(key32, key32, fc.constantFrom('userId', 'anonymousId', 'email', 'phone'), text, (k1, k2, kind, value) => {
        fc.pre(!k1.equals(k2));
        assert.notDeepEqual(new BlindIndexer(k1).index(kind, value), new BlindIndexer(k2).index(kind, value));
        const other = kind === 'email' ? 'userId' : 'email';
        assert.notDeepEqual(new BlindIndexer(k1).index(kind, value), new BlindIndexer(k1).index(other, value));
      }),
    );
  });
});
