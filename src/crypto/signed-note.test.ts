import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { CheckpointSigner, CheckpointVerifier, unwrapSigningKey, wrapSigningKey } from './signed-note.ts';

describe('signed checkpoints', () => {
  const { signer, pkcs8 } = CheckpointSigner.generate();
  const root = randomBytes(32);

  it('round-trips through the note text and a verifier that knows only the public key', () => {
    const cp = signer.sign(42, root, 1_700_000_000_123);
    const lines = cp.note.split('\n');
    assert.equal(lines[0], signer.origin);
    assert.equal(lines[1], '42');
    assert.equal(lines[2], root.toString('base64'));
    assert.equal(lines[3], 'time 1700000000123');
    assert.equal(lines[4], '');
    assert.ok(lines[5]!.startsWith(`\u2014 ${signer.origin} `));
    const opened = new CheckpointVerifier(signer.publicKey).open(cp.note);
    assert.ok(opened.ok);
    assert.equal(opened.checkpoint.treeSize, 42);
    assert.ok(opened.checkpoint.rootHash.equals(root));
    assert.equal(opened.checkpoint.timestamp, 1_700_000_000_123);
  });

  it('ignores other signers’ lines (witness cosignatures) but needs its own', () => {
    const cp = signer.sign(1, root, 1);
    const witness = CheckpointSigner.generate().signer;
    const cosigned = `${cp.note}\u2014 ${witness.origin} ${Buffer.alloc(68, 1).toString('base64')}\n`;
    assert.ok(signer.open(cosigned).ok);
    assert.deepEqual(signer.open(cp.note.split('\n\n')[0] + '\n\n'), { ok: false, reason: 'no signature by this log key' });
  });

  it('rejects every change to the signed text', () => {
    const note = signer.sign(10, root, 5).note;
    const body = note.split('\n\n')[0]!;
    const sig = note.slice(body.length);
    for (const forged of [body.replace('\n10\n', '\n11\n'), body.replace('time 5', 'time 6'), body.replace(root.toString('base64'), randomBytes(32).toString('base64'))]) {
      const r = signer.open(forged + sig);
      assert.equal(r.ok, false);
    }
    assert.equal(signer.open('garbage').ok, false);
    assert.equal(signer.open(note.replace('\n10\n', '\n010\n')).ok, false);
    assert.match((CheckpointSigner.generate().signer.open(note) as { reason: string }).reason, /another log/);
  });

  it('keeps the private key wrapped by the master key', () => {
    const master = randomBytes(32);
    const wrapped = wrapSigningKey(master, signer.keyId, pkcs8);
    assert.ok(!wrapped.includes(pkcs8.subarray(16, 48)));
    const again = CheckpointSigner.fromPkcs8(unwrapSigningKey(master, signer.keyId, wrapped));
    assert.equal(again.keyId, signer.keyId);
    assert.ok(signer.open(again.sign(3, root, 3).note).ok);
    assert.throws(() => unwrapSigningKey(randomBytes(32), signer.keyId, wrapped), /does not unwrap/);
    assert.throws(() => unwrapSigningKey(master, 'other', wrapped), /does not unwrap/);
  });
});
