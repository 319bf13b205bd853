// Entry of the verifier's worker thread when running from source (tests, development): a worker does not inherit the
// TypeScript loader, so register tsx first. Compiled code (dist/) starts audit-leaf-worker.js directly.
import { register } from 'tsx/esm/api';

register();
await import('./audit-leaf-worker.ts');
