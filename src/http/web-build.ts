// The browser bundles under web/: built with esbuild by `npm run build` into dist/web/, or in memory when running from source.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'esbuild';
import { FiduciaError } from '../domain/errors.ts';

export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));
/** Where `npm run build` writes the bundles: dist/web/ beside the compiled dist/http/ (meaningless from src/). */
const PREBUILT_ROOT = new URL('../web/', import.meta.url);
/** Compiled JavaScript runs from dist/; under tsx this file is still the .ts source. */
const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/** Served name → entry point under web/. */
const ENTRIES = {
  'widget.js': 'widget/widget.ts',
  'privacy.js': 'privacy/privacy.ts',
  'demo.js': 'demo/demo.ts',
  'demo-ads.js': 'demo/ads.ts',
  'console.js': 'console/console.ts',
} as const;
/** Page stylesheets, served as files so that the pages' CSP needs no 'unsafe-inline' (the widget's CSS is in its bundle). */
const STYLES = { 'privacy.css': 'privacy/privacy.css', 'demo.css': 'demo/demo.css', 'console.css': 'console/console.css' } as const;
export type WebBundle = keyof typeof ENTRIES | keyof typeof STYLES;
export const WEB_BUNDLES = [...Object.keys(ENTRIES), ...Object.keys(STYLES)] as WebBundle[];

export interface WebAsset {
  body: Buffer;
  /** Precompressed once: the widget is fetched on every page view of every shop. */
  gzip: Buffer;
  etag: string;
}

/** The bundles cannot be built or read: the pages that need them are unavailable (503), the server itself is fine. */
export class WebBuildError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_UNAVAILABLE', message);
    this.name = 'WebBuildError';
  }
}

const asset = (body: Buffer): WebAsset => ({
  body,
  gzip: gzipSync(body, { level: 9 }),
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
});

/**
 * The bundles the server sends: compiled, those `npm run build` wrote to dist/web/; from source (tests, development)
 * or when dist/web/ is missing, built now, so that an edit under web/ shows without a build.
 */
export async function buildWebAssets(): Promise<Map<WebBundle, WebAsset>> {
  if (RUNNING_COMPILED) {
    const prebuilt = await readPrebuilt();
    if (prebuilt) return prebuilt;
  }
  return bundleWebAssets();
}

async function readPrebuilt(): Promise<Map<WebBundle, WebAsset> | undefined> {
  const out = new Map<WebBundle, WebAsset>();
  for (const name of WEB_BUNDLES) {
    try {
      out.set(name, asset(await readFile(new URL(name, PREBUILT_ROOT))));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  return out;
}

/** Writes the bundles for `npm run build`: the same bytes the server would build at run time. */
export async function writeWebAssets(dir: URL = PREBUILT_ROOT): Promise<WebBundle[]> {
  await mkdir(dir, { recursive: true });
  const built = await bundleWebAssets();
  for (const [name, { body }] of built) await writeFile(new URL(name, dir), body);
  return [...built.keys()];
}

/**
 * Builds every bundle with esbuild (minified IIFE, CSS imported as minified text): quick enough to run on the first
 * request when the server runs from source (figures in docs/performance.md, "Web bundles").
 */
export async function bundleWebAssets(): Promise<Map<WebBundle, WebAsset>> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    // esbuild is a devDependency: without `npm run build`'s dist/web/, `npm install --omit=dev` leaves the pages without scripts.
    throw new WebBuildError('the web bundles are not built (npm run build) and esbuild is not installed (npm install)');
  }
  const cssAsText: Plugin = {
    name: 'css-as-text',
    setup(b) {
      b.onLoad({ filter: /\.css$/ }, async (args) => {
        const min = await esbuild.transform(await readFile(args.path, 'utf8'), { loader: 'css', minify: true });
        return { contents: `export default ${JSON.stringify(min.code.trim())}`, loader: 'js' };
      });
    },
  };
  const result = await esbuild.build({
    absWorkingDir: WEB_ROOT,
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name.replace(/\.js$/, ''), src])),
    bundle: true,
    minify: true,
    format: 'iife',
    target: ['chrome100', 'firefox100', 'safari15'],
    charset: 'utf8',
    legalComments: 'none',
    write: false,
    outdir: 'out',
    plugins: [cssAsText],
    logLevel: 'silent',
  });
  const out = new Map<WebBundle, WebAsset>();
  const add = (name: WebBundle, body: Buffer) => out.set(name, asset(body));
  for (const file of result.outputFiles) add(file.path.split(/[\\/]/).pop() as WebBundle, Buffer.from(file.contents));
  // Stylesheets are bundled too: the console's imports uPlot's sheet from node_modules.
  for (const [name, src] of Object.entries(STYLES) as [WebBundle, string][]) {
    const css = await esbuild.build({ absWorkingDir: WEB_ROOT, entryPoints: [src], bundle: true, minify: true, write: false, outdir: 'out', logLevel: 'silent' });
    const file = css.outputFiles[0];
    if (!file) throw new WebBuildError(`esbuild produced no ${name}`);
    add(name, Buffer.from(file.contents));
  }
  for (const name of WEB_BUNDLES) if (!out.has(name)) throw new WebBuildError(`esbuild produced no ${name}`);
  return out;
}
