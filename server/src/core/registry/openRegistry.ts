// One entry point for every registry a command names: a PostgreSQL URL opens the organisation
// backend, anything else the embedded SQLite file; both behind the AsyncRegistry interface.
import { openPgRegistry, isPostgresUrl } from './pgRegistry';
import { asAsyncRegistry, openSqliteRegistry } from './sqliteRegistry';
import type { AsyncRegistry } from './types';

export interface OpenAnyRegistryOptions {
  writable?: boolean;
  env?: NodeJS.ProcessEnv;
}

export async function openAnyRegistry(location: string, options: OpenAnyRegistryOptions = {}): Promise<AsyncRegistry> {
  if (isPostgresUrl(location)) return openPgRegistry(location, { writable: options.writable, env: options.env });
  return asAsyncRegistry(await openSqliteRegistry(location, { writable: options.writable }));
}
