#!/usr/bin/env node
// The `fiducia` command: runs the compiled CLI in dist/, which `npm install` (prepare) and `npm run build` write.
import { existsSync } from 'node:fs';
import { isSupportedNode, SUPPORTED_NODE } from './supported-node.js';

if (!isSupportedNode(process.versions.node)) {
  process.stderr.write(
    `fiducia: Node.js ${process.versions.node} is not supported; use Node.js 20.19+, 22.13+ or 24+ (${SUPPORTED_NODE})\n`,
  );
  process.exit(1);
}

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('fiducia: not built yet: run `npm run build` (npm install does it too)\n');
  process.exit(1);
}
// Stack traces name the TypeScript sources (tsc writes the maps beside dist/).
process.setSourceMapsEnabled(true);
await import(main.href);
