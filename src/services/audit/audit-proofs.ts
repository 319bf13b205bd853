// Client-side checks of what the audit API hands out: a proof is trusted only against roots of checkpoints whose signatures verify.
import { leafHash, verifyConsistency, verifyInclusion } from '../../domain/merkle.ts';
import { canonicalEntryBytes, entryParts, type AuditEntry } from '../../domain/audit-entry.ts';
import type { CheckpointVerifier } from '../../crypto/signed-note.ts';

export type ProofCheck = { ok: true } | { ok: false; reason: string };

const buf = (b64: string): Buffer => Buffer.from(b64, 'base64');

/** The old checkpoint's tree is a prefix of the new one's: both notes signed by the log key, and the proof links their roots. */
export function checkConsistency(verifier: CheckpointVerifier, fromNote: string, toNote: string, proof: readonly string[]): ProofCheck {
  const from = verifier.open(fromNote);
  if (!from.ok) return { ok: false, reason: `old checkpoint: ${from.reason}` };
  const to = verifier.open(toNote);
  if (!to.ok) return { ok: false, reason: `new checkpoint: ${to.reason}` };
  const a = from.checkpoint;
  const b = to.checkpoint;
  if (!verifyConsistency(a.treeSize, b.treeSize, proof.map(buf), a.rootHash, b.rootHash)) {
    return { ok: false, reason: `the proof does not show the ${a.treeSize}-entry tree inside the ${b.treeSize}-entry tree` };
  }
  return { ok: true };
}

/** The entry is in the tree of a signed checkpoint: the leaf is recomputed from the entry itself, not taken on trust. */
export function checkInclusion(verifier: CheckpointVerifier, entry: AuditEntry, proof: readonly string[], note: string): ProofCheck {
  const cp = verifier.open(note);
  if (!cp.ok) return { ok: false, reason: `checkpoint: ${cp.reason}` };
  const leaf = leafHash(canonicalEntryBytes(entryParts(entry)));
  if (!verifyInclusion(leaf, entry.index, cp.checkpoint.treeSize, proof.map(buf), cp.checkpoint.rootHash)) {
    return { ok: false, reason: `entry ${entry.index} is not in the ${cp.checkpoint.treeSize}-entry tree` };
  }
  return { ok: true };
}
