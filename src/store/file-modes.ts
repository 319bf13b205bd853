// Owner-only files and folders for what Fiducia keeps on disk (databases, master key, outbox), whatever the umask.
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, statSync } from 'node:fs';

export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** Creates the folder (and its parents) if needed and makes it 0700: `mkdir`'s mode is cut by the umask, and an existing folder keeps its own. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
  setMode(dir, PRIVATE_DIR);
}

/**
 * Creates the file empty if it does not exist, and makes it 0600. SQLite creates a database's `-wal`, `-shm` and
 * `-journal` files with the database file's own mode, so a database file made 0600 before it is opened keeps them
 * 0600 too.
 */
export function privateFile(file: string): void {
  const fd = openSync(file, 'a', PRIVATE_FILE);
  try {
    fchmodSync(fd, PRIVATE_FILE);
  } catch (err) {
    if (!ownerOnly(file)) throw err;
  } finally {
    closeSync(fd);
  }
}

/** Makes an existing file 0600 (a file left by an older version or another umask); a missing one is fine. */
export function privateIfExists(file: string): void {
  try {
    setMode(file, PRIVATE_FILE);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function setMode(path: string, mode: number): void {
  try {
    chmodSync(path, mode);
  } catch (err) {
    // Not ours to change (another owner): acceptable only if nobody else can read it anyway.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || !ownerOnly(path)) throw err;
  }
}

function ownerOnly(path: string): boolean {
  return (statSync(path).mode & 0o077) === 0;
}
