// sql.js (SQLite compiled to WebAssembly, whole database in memory), used by tests only: a second,
// independent SQLite writes and tampers registry files, as files made by older versions were written.
import initSqlJs, { type SqlJsStatic } from 'sql.js';

let loading: Promise<SqlJsStatic> | undefined;

export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= initSqlJs({ locateFile: (name: string) => require.resolve(`sql.js/dist/${name}`) });
  return loading;
}
