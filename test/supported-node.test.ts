// The Node.js releases Fiducia supports: the `fiducia` command's own check matches package.json's `engines`, refuses
// the lines outside it with a message that names the supported ones, and accepts the Node running this suite.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface SupportedNode {
  SUPPORTED_NODE: string;
  isSupportedNode: (version: string) => boolean;
}

async function load(): Promise<SupportedNode> {
  return (await import(pathToFileURL(join(ROOT, 'bin', 'supported-node.js')).href)) as SupportedNode;
}

describe('supported Node.js releases', () => {
  it('are the ones package.json declares in engines', async () => {
    const { SUPPORTED_NODE } = await load();
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    assert.equal(pkg.engines.node, SUPPORTED_NODE);
  });

  it('accept 20.19+, 22.13+ and 24+, refuse the rest', async () => {
    const { isSupportedNode } = await load();
    for (const v of ['20.19.0', '20.20.2', '22.13.0', '22.23.5', '24.0.0', '24.22.3', '26.12.1']) {
      assert.equal(isSupportedNode(v), true, `${v} is supported`);
    }
    for (const v of ['18.20.8', '20.18.3', '21.7.3', '22.12.0', '23.11.1', '19.9.0', '', 'x.y.z', '24']) {
      assert.equal(isSupportedNode(v), false, `${v} is not supported`);
    }
  });

  it('include the Node running this suite', async () => {
    const { isSupportedNode } = await load();
    assert.equal(isSupportedNode(process.versions.node), true, `${process.version} is supported`);
  });

  it('the fiducia command refuses an unsupported Node before anything else, naming the supported lines', async () => {
    // process.versions is replaced before bin/fiducia.js runs, as if this were Node 18 (the check comes before the build's).
    const pretend = 'data:text/javascript,Object.defineProperty(process, "versions", { value: { ...process.versions, node: "18.20.8" } });';
    const r = spawnSync(process.execPath, ['--import', pretend, join(ROOT, 'bin', 'fiducia.js'), 'start'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^fiducia: Node\.js 18\.20\.8 is not supported; use Node\.js 20\.19\+, 22\.13\+ or 24\+/);
  });
});
