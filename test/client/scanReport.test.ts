// The Scan Model report (output channel) and its one-line summary, from a lineage/scan result.
import * as assert from 'node:assert/strict';
import { formatScanReport, scanSummary } from '../../client/src/commands/scanReport';
import type { ScanResult } from '../../server/src/protocol';

const scan: ScanResult = {
  target: '/work/models/notes',
  lineage: {
    status: 'verified',
    matches: [
      { repoId: 'acme/base', commit: '0123456789abcdef0123456789abcdef01234567', verdict: 'derived', log10P: -112.3, reason: 'shares weights', source: 'registry' },
      { repoId: 'sshleifer/tiny-gpt2', verdict: 'derived', log10P: -40, reason: 'shares weights', source: 'local-cache' },
    ],
    declared: [{ baseModel: 'acme/base', source: 'card', status: 'confirmed', detail: 'derived' }],
    candidatesCompared: 29,
    tokenizerFamily: 'GPT-2',
  },
};

describe('client: scan report', () => {
  it('leads with the strongest match and lists the registry source, tokenizer family and declared check', () => {
    assert.equal(scanSummary(scan), '/work/models/notes: derived acme/base (p = 5.0e-113)');
    const report = formatScanReport(scan).split('\n');
    assert.equal(report[1], '  lineage: verified (29 known model(s) compared)');
    assert.ok(report.includes('  tokenizer family: GPT-2 (vocabulary match, not weight lineage)'));
    assert.ok(report.includes('  match: derived acme/base@0123456789ab (p = 5.0e-113) [registry]: shares weights'));
    assert.ok(report.includes('  declared acme/base (card): confirmed: derived'));
  });

  it('says how many known models were compared when nothing matched', () => {
    assert.equal(scanSummary({ ...scan, lineage: { ...scan.lineage, status: 'unverified', matches: [] } }), '/work/models/notes: unverified, 29 known model(s) compared');
  });
});
