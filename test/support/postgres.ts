// A scratch PostgreSQL database per test file, on the cluster named by LINEAGE_TEST_PG_URL (started
// by scripts/ci/start-postgres.sh in CI). Without the variable the suites skip and say why.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export const PG_URL_ENV = 'LINEAGE_TEST_PG_URL';

/** The cluster URL, or undefined after printing why PostgreSQL suites are skipped. */
export function postgresTestUrl(suite: string): string | undefined {
  const url = process.env[PG_URL_ENV];
  if (!url) process.stdout.write(`  (${suite}: skipped, ${PG_URL_ENV} is not set; scripts/ci/start-postgres.sh starts a throwaway cluster)\n`);
  return url || undefined;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Creates an empty database on the cluster and returns its URL. */
export async function createScratchDatabase(clusterUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `lineage_t_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: clusterUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(clusterUrl, name),
    async drop() {
      const client = new Client({ connectionString: clusterUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
