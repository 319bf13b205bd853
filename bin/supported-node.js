// Which Node.js releases Fiducia runs on: package.json's `engines` range, as a check the `fiducia` command makes first.
// test/supported-node.test.ts keeps the two equal.

export const SUPPORTED_NODE = '^20.19.0 || ^22.13.0 || >=24';

// The first supported minor of each older line, the oldest release every installed package declares it supports
// (eslint-visitor-keys 5 draws the line); every release from 24 on.
const OLDEST_MINOR = new Map([[20, 19], [22, 13]]);

/** Whether a Node.js version such as `process.versions.node` ("24.1.0") is in SUPPORTED_NODE. */
export function isSupportedNode(version) {
  const [major, minor] = version.split('.').map(Number);
  if (!Number.isInteger(major) || !Number.isInteger(minor)) return false;
  if (major >= 24) return true;
  const oldest = OLDEST_MINOR.get(major);
  return oldest !== undefined && minor >= oldest;
}
