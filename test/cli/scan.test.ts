// `lineage scan` through the built CLI: exit codes (0 related, 1 none, 3 unreadable, 2 usage), the
// embedded reference database, and JSON output.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { ScanResult } from '../../server/src/core/registry';
import { runCli } from '../support/cli';
import { zooPath } from '../support/zoo';

describe('lineage scan', function () {
  this.timeout(240_000);
  const folder = mkdtempSync(path.join(tmpdir(), 'lineage-scan-cli-'));
  const db = path.join(folder, 'reg.sqlite');
  before(() => {
    const r = runCli(['db', 'add', zooPath('tiny-gpt2'), zooPath('tinyllamas-stories260K-gguf'), '--db', db]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(folder, { recursive: true, force: true }));

  it('exits 0 and names the base when a related known model is found', () => {
    const r = runCli(['scan', zooPath('tiny-gpt2-medical'), '--db', db]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /result: related to tiny-gpt2 \(derived\)/);
    const json = runCli(['scan', zooPath('tiny-gpt2-medical'), '--db', db, '--json', '--top-k', '1']);
    const result = JSON.parse(json.stdout) as ScanResult;
    assert.equal(result.matches.length, 1);
    assert.equal(result.matches[0]!.id, 'tiny-gpt2');
    assert.ok(result.matches[0]!.adjustedLog10P! < -12);
  });

  it('exits 1 when nothing related is known', () => {
    const r = runCli(['scan', zooPath('silero-vad-16k-tinygrad'), '--db', db]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /no related known model/);
  });

  it('exits 3 for an unreadable model and 2 for bad usage', () => {
    assert.equal(runCli(['scan', path.join(folder, 'missing-model'), '--db', db]).status, 3);
    assert.equal(runCli(['scan', zooPath('tiny-gpt2'), '--db', db, '--top-k', 'zero']).status, 2);
    assert.equal(runCli(['scan']).status, 2);
  });

  it('uses the embedded reference database by default: the Llama 3 tokenizer is a tokenizer family, not lineage', () => {
    const r = runCli(['scan', path.resolve(__dirname, '..', '..', 'node_modules', '@lenml', 'tokenizer-llama3', 'models'), '--json'], { LINEAGE_DB: '' });
    assert.equal(r.status, 1, r.stderr);
    const result = JSON.parse(r.stdout) as ScanResult;
    assert.match(result.registry.location, /data[\\/]reference\.sqlite$/);
    assert.equal(result.tokenizer.family, 'Llama 3');
    assert.equal(result.related, false);
    const medical = runCli(['scan', zooPath('tiny-gpt2-medical')], { LINEAGE_DB: '' });
    assert.equal(medical.status, 0, medical.stdout);
    assert.match(medical.stdout, /sshleifer\/tiny-gpt2/);
  });
});
