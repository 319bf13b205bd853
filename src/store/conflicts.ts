// Errors that only mean a transaction lost a race with another one (PostgreSQL aborted it to break a deadlock, or as a
// serialization failure): nothing of it was committed, and running it again is the remedy.

export function isTransientConflict(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}
