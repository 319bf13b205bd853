// KEK rotation with its audit entry: the keystore and the data live in different databases, so the entry follows the rotation.
import type { DataScope } from '../../store/scope.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from './keyring.ts';

export async function rotateKeys(
  deps: { ring: KeyRing; audit: AuditPort; db: DataScope },
  actor = 'system',
  onProgress?: (done: number, total: number) => void,
): Promise<{ kekVersion: number; rewrapped: number }> {
  try {
    const result = await deps.ring.rotate(onProgress);
    await deps.audit.append(deps.db, [
      { actor, action: 'keys.rotate', outcome: 'ok', counts: { rewrapped: result.rewrapped }, details: { kekVersion: result.kekVersion } },
    ]);
    return result;
  } catch (err) {
    // A rotation that stopped half-way is on record too (the next run finishes it).
    await deps.audit.append(deps.db, [{ actor, action: 'keys.rotate', outcome: 'failed', details: { reason: err instanceof Error ? err.name : 'error' } }]).catch(() => undefined);
    throw err;
  }
}
