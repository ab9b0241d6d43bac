// Bundles the entry points with esbuild: the CLI, the language server, its worker thread and the VS
// Code client; copies the tree-sitter wasm files next to them. `--production` minifies.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const production = process.argv.includes('--production');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // web-tree-sitter is ESM and locates itself through import.meta.url, which is empty in a CJS bundle.
  define: { 'import.meta.url': '__importMetaUrl' },
};
const importMetaShim = 'const __importMetaUrl = require("url").pathToFileURL(__filename).href;';

const entries = [
  { entryPoints: ['server/src/cli/main.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  { entryPoints: ['server/src/lsp/server.ts'], outfile: 'dist/server.js' },
  // Worker threads load their own file: fingerprinting runs there, off the server's message loop.
  { entryPoints: ['server/src/lsp/workers/worker.ts'], outfile: 'dist/worker.js' },
  { entryPoints: ['client/src/extension.ts'], outfile: 'dist/client.js', external: ['vscode'] },
];

await Promise.all(
  entries
    .filter((e) => existsSync(e.entryPoints[0]))
    .map((e) => build({ ...common, ...e, banner: { js: [e.banner?.js, importMetaShim].filter(Boolean).join('\n') } })),
);

// The Python reference finder loads these at run time (initPythonParser(dist/)); bundles cannot inline them.
// The registry's WebAssembly SQLite (node-sqlite3-wasm) loads its .wasm from beside the bundle (its own __dirname).
const require = createRequire(import.meta.url);
mkdirSync('dist', { recursive: true });
for (const wasm of ['web-tree-sitter/tree-sitter.wasm', 'tree-sitter-python/tree-sitter-python.wasm', 'node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm']) {
  copyFileSync(require.resolve(wasm), path.join('dist', path.basename(wasm)));
}
