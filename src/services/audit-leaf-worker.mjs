// Entry of the verifier's worker thread: a worker does not inherit the TypeScript loader, so register it first.
import { register } from 'tsx/esm/api';

register();
await import('./audit-leaf-worker.ts');
