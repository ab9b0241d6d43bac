// Loads the WebAssembly SQLite (sql.js) once per process and finds its .wasm file: next to the
// bundle (dist/sql-wasm.wasm, copied by scripts/build.mjs) or in node_modules when run from source.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import initSqlJs, { type SqlJsStatic } from 'sql.js';

const WASM_FILE = 'sql-wasm.wasm';

let loading: Promise<SqlJsStatic> | undefined;

/** The wasm beside this module (the esbuild bundle) wins; from source it is sql.js's own copy. */
export function locateSqlWasm(): string {
  const beside = path.join(__dirname, WASM_FILE);
  if (existsSync(beside)) return beside;
  return require.resolve(`sql.js/dist/${WASM_FILE}`);
}

export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= initSqlJs({ locateFile: () => locateSqlWasm() }).catch((err: unknown) => {
    loading = undefined;
    throw err;
  });
  return loading;
}
