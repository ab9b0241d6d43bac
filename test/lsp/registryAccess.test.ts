// Which registries the language server consults and with what credentials (lsp/registryAccess.ts and
// organisationRegistry): the setting's URL wins over LINEAGE_DB_URL, a password in the setting is dropped
// with a warning, the editor's password reaches only the connection string, and problems are shown once.
import * as assert from 'node:assert/strict';
import { organisationRegistry } from '../../server/src/analysis/oracles/registryOracle';
import { withoutPassword } from '../../server/src/analysis/registryJobs';
import { DEFAULT_SETTINGS } from '../../server/src/analysis/settings';
import { RegistryAccess } from '../../server/src/lsp/registryAccess';
import type { LineageSettings } from '../../server/src/protocol';

function withUrl(url: string): LineageSettings {
  return { ...DEFAULT_SETTINGS, registry: { ...DEFAULT_SETTINGS.registry, path: '/tmp/user.sqlite', url } };
}

describe('organisation registry settings and credentials', () => {
  it('uses lineage.registry.url, else LINEAGE_DB_URL, else none', () => {
    const env = { LINEAGE_DB_URL: 'postgres://ci@env-host/lineage' };
    assert.equal(organisationRegistry(withUrl('postgres://me@db.example.com:5433/reg'), env).source?.path, 'postgres://me@db.example.com:5433/reg');
    assert.equal(organisationRegistry(withUrl(''), env).source?.path, 'postgres://ci@env-host/lineage');
    assert.deepEqual(organisationRegistry(withUrl(''), {}), {});
  });

  it('drops a password written in the setting, with a warning that does not repeat it', () => {
    const found = organisationRegistry(withUrl('postgres://me:hunter2-secret@db.example.com/reg'), {});
    assert.equal(found.source?.path, 'postgres://me@db.example.com/reg');
    assert.equal(found.source?.connect, 'postgres://me@db.example.com/reg', 'not used to connect either');
    assert.match(found.problem ?? '', /lineage\.registry\.url contains a password: it is ignored/);
    assert.ok(!JSON.stringify(found.problem).includes('hunter2'));
  });

  it('keeps a password of LINEAGE_DB_URL (the environment is a credential source) out of the shown path', () => {
    const found = organisationRegistry(withUrl(''), { LINEAGE_DB_URL: 'postgres://ci:env-pw@env-host/lineage' });
    assert.equal(found.source?.path, 'postgres://ci@env-host/lineage');
    assert.equal(found.source?.connect, 'postgres://ci:env-pw@env-host/lineage');
    assert.equal(found.problem, undefined);
  });

  it('puts the editor password (escaped) in the connection string only', () => {
    const found = organisationRegistry(withUrl('postgres://me@db.example.com/reg'), {}, 'p@ss:w/rd');
    assert.equal(found.source?.path, 'postgres://me@db.example.com/reg');
    assert.equal(decodeURIComponent(new URL(found.source!.connect!).password), 'p@ss:w/rd');
  });

  it('refuses a URL that is not PostgreSQL', () => {
    const found = organisationRegistry(withUrl('mysql://me@db/reg'), {});
    assert.equal(found.source, undefined);
    assert.match(found.problem ?? '', /not a postgres:\/\/user@host\/database URL/);
  });

  it('masks a password that an error text might carry', () => {
    assert.equal(withoutPassword('could not connect with p%40ss%3Aw%2Frd or p@ss:w/rd', 'postgres://me:p%40ss%3Aw%2Frd@h/db'), 'could not connect with *** or ***');
    assert.equal(withoutPassword('plain', undefined), 'plain');
  });

  it('holds the organisation registry until the client sent its stored password, and shows each problem once', () => {
    const shown: string[] = [];
    const access = new RegistryAccess((problem) => shown.push(problem), {});
    const settings = withUrl('postgres://me:inline@db.example.com/reg');
    access.expectPasswordFromClient();
    assert.deepEqual(access.sources(settings).map((s) => s.role), ['user', 'embedded']);
    assert.equal(access.setPassword({ password: 'from-secret-storage' }), true);
    const organisation = access.sources(settings).find((s) => s.role === 'organisation');
    assert.equal(decodeURIComponent(new URL(organisation!.connect!).password), 'from-secret-storage');
    assert.equal(access.setPassword({ password: 'from-secret-storage' }), false, 'the same password again changes nothing');
    access.checkSettings(settings);
    access.checkSettings(settings);
    access.report('organisation registry postgres://me@db.example.com/reg is unavailable: ECONNREFUSED');
    access.report('organisation registry postgres://me@db.example.com/reg is unavailable: ECONNREFUSED');
    assert.equal(shown.length, 2, JSON.stringify(shown));
    // New credentials: the same failure is news again.
    access.setPassword({});
    access.report('organisation registry postgres://me@db.example.com/reg is unavailable: ECONNREFUSED');
    assert.equal(shown.length, 3);
  });
});
