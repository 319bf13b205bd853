// Loads the audit log's checkpoint-signing key from the keystore, creating it (wrapped by the master key) on first start.
import type { KeyScope } from '../../store/scope.ts';
import { CheckpointSigner, unwrapSigningKey, wrapSigningKey } from '../../crypto/signed-note.ts';
import { AuditKeyRepo } from '../../store/audit-key-repo.ts';

export async function loadAuditSigner(keys: KeyScope, master: Buffer): Promise<CheckpointSigner> {
  const repo = new AuditKeyRepo(keys);
  let row = await repo.current();
  if (!row) {
    const { signer, pkcs8 } = CheckpointSigner.generate();
    row = await repo.insertFirst({
      key_id: signer.keyId,
      public_key: signer.publicKey,
      private_wrapped: wrapSigningKey(master, signer.keyId, pkcs8),
      created_at: Date.now(),
    });
  }
  const signer = CheckpointSigner.fromPkcs8(unwrapSigningKey(master, row.key_id, row.private_wrapped));
  if (signer.keyId !== row.key_id || !signer.publicKey.equals(Buffer.from(row.public_key))) {
    throw new Error('the audit signing key in the keystore is inconsistent (public key and private key differ)');
  }
  return signer;
}
