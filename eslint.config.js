// ESLint: typescript-eslint's recommended rules everywhere, and the layer boundaries of src/ (README, "Checks").
import js from '@eslint/js';
import boundaries from 'eslint-plugin-boundaries';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

/** Layer patterns are relative to the repository, wherever eslint is started from. */
const ROOT = fileURLToPath(new URL('.', import.meta.url));

/** Database drivers and the query builder: only src/store/ may import them, `import type` included. */
const DATABASE_PACKAGES = ['kysely', 'better-sqlite3', 'pg'];

/**
 * The layers of src/, one element each, anchored at the repository root. A file belongs to the first (deepest)
 * match, so src/store/internal/x.ts is `store-internal`, whose parent is `store`.
 */
const LAYERS = [
  { type: 'store-internal', pattern: 'src/store/internal', partialMatch: false },
  { type: 'store', pattern: 'src/store', partialMatch: false },
  { type: 'domain', pattern: 'src/domain', partialMatch: false },
  { type: 'crypto', pattern: 'src/crypto', partialMatch: false },
  { type: 'services', pattern: 'src/services', partialMatch: false },
  { type: 'http', pattern: 'src/http', partialMatch: false },
  { type: 'jobs', pattern: 'src/jobs', partialMatch: false },
  { type: 'cli', pattern: 'src/cli', partialMatch: false },
  // Files directly in src/: src/app.ts, the composition root (element path `src`, file `app.ts`).
  { type: 'root', pattern: 'src', partialMatch: false },
];

/** Every layer outside src/store/. */
const OUTSIDE_STORE = ['domain', 'crypto', 'services', 'http', 'jobs', 'cli', 'root'];

const from = (...types) => ({ element: { type: types } });
const to = (...types) => ({ to: types.map((type) => ({ element: { type } })) });

/** Read top to bottom; a later policy overrides an earlier one, and what none allows is an error. */
const LAYER_POLICIES = [
  // Node built-ins and npm packages are allowed everywhere ...
  { from: from(...LAYERS.map((l) => l.type)), allow: { to: { module: { origin: ['core', 'external'] } } } },
  // ... except the database packages, which belong to src/store/.
  { from: from(...OUTSIDE_STORE), disallow: { to: { module: { origin: 'external', source: DATABASE_PACKAGES } } } },
  // Each layer and what it may import of ours; importing within one's own layer is always allowed.
  { from: from('domain'), allow: to('domain') },
  { from: from('crypto'), allow: to('crypto', 'domain') },
  { from: from('store', 'store-internal'), allow: to('store', 'store-internal', 'domain', 'crypto') },
  { from: from('services'), allow: to('services', 'store', 'domain', 'crypto') },
  { from: from('http'), allow: to('http', 'services', 'domain', 'crypto') },
  { from: from('jobs'), allow: to('jobs', 'services', 'domain') },
  // The composition root (app.ts, and core.ts: storage and keys without HTTP, for the CLI's maintenance commands) builds
  // everything; src/store/internal/ stays private to src/store/ all the same.
  {
    from: [from('cli'), { element: { type: 'root', fileInternalPath: 'app.ts' } }, { element: { type: 'root', fileInternalPath: 'core.ts' } }],
    allow: to('root', 'cli', 'jobs', 'http', 'services', 'store', 'crypto', 'domain'),
  },
];

export default defineConfig([
  globalIgnores(['dist/', 'data/', '.tmp/']),

  js.configs.recommended,
  tseslint.configs.recommended,

  { ignores: ['web/**'], languageOptions: { globals: globals.node } },

  {
    rules: {
      // An unused binding named `_x` is deliberate: a destructured field dropped from a rest object, or a placeholder.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_' },
      ],
      // Off: NUL and lone-surrogate guards (PostgreSQL refuses NUL in text) match control characters on purpose.
      'no-control-regex': 'off',
    },
  },

  {
    files: ['src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'error' },
  },

  // Layer boundaries: production files under src/ only (tests may reach across layers to set things up).
  {
    files: ['src/**/*.ts', 'src/**/*.mjs'],
    ignores: ['**/*.test.ts'],
    plugins: { boundaries },
    settings: {
      'boundaries/root-path': ROOT,
      'boundaries/elements': LAYERS,
      'boundaries/dependency-nodes': ['import', 'dynamic-import', 'export'],
    },
    rules: {
      'boundaries/dependencies': [
        'error',
        {
          default: 'disallow',
          // Also judge npm packages and built-ins (the database packages), and local files that are in no layer
          // (test/, bench/, a path that does not resolve): those are refused.
          checkAllOrigins: true,
          checkUnknownLocals: true,
          policies: LAYER_POLICIES,
        },
      ],
    },
  },

  // Browser code: the widget, the privacy center and the demo shop.
  {
    files: ['web/**/*.ts'],
    languageOptions: { globals: globals.browser },
    rules: {
      // Storage and cookies throw when the browser blocks them; an empty catch there means "carry on without".
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
]);
