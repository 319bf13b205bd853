// Builds the browser bundles under web/ with esbuild, in memory: nothing built is committed or written to disk.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Plugin } from 'esbuild';
import { FiduciaError } from '../domain/errors.ts';

export const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/** Served name → entry point under web/. */
const ENTRIES = {
  'widget.js': 'widget/widget.ts',
  'privacy.js': 'privacy/privacy.ts',
  'demo.js': 'demo/demo.ts',
  'demo-ads.js': 'demo/ads.ts',
} as const;
/** Page stylesheets, served as files so that the pages' CSP needs no 'unsafe-inline' (the widget's CSS is in its bundle). */
const STYLES = { 'privacy.css': 'privacy/privacy.css', 'demo.css': 'demo/demo.css' } as const;
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

/** Builds every bundle (minified IIFE, CSS imported as minified text). About 0.1–0.3 s. */
export async function buildWebAssets(): Promise<Map<WebBundle, WebAsset>> {
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch {
    // esbuild is a devDependency: `npm install --omit=dev` leaves the pages without their scripts.
    throw new WebBuildError('the web bundles need esbuild (install dev dependencies: npm install)');
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
  const add = (name: WebBundle, body: Buffer) =>
    out.set(name, { body, gzip: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  for (const file of result.outputFiles) add(file.path.split(/[\\/]/).pop() as WebBundle, Buffer.from(file.contents));
  for (const [name, src] of Object.entries(STYLES) as [WebBundle, string][]) {
    const min = await esbuild.transform(await readFile(`${WEB_ROOT}${src}`, 'utf8'), { loader: 'css', minify: true });
    add(name, Buffer.from(min.code));
  }
  for (const name of WEB_BUNDLES) if (!out.has(name)) throw new WebBuildError(`esbuild produced no ${name}`);
  return out;
}
