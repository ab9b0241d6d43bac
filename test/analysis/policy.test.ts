// `.lineage.yaml`: parsing (organisations, required base verdicts, ignores with their positions) and
// the findings it drives: LL012 policy violations, ignores that suppress, LL013 on expired or invalid ignores.
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { computeFindings } from '../../server/src/analysis/findings';
import type { AnalyzedReference, DocumentAnalysis } from '../../server/src/analysis/documentAnalysis';
import { globToRegExp, organisationViolation, parsePolicy } from '../../server/src/analysis/policy';
import { findReferences } from '../../server/src/references';
import { referenceStatus } from '../client/referenceStatus';

const ROOT = path.resolve('/ws');
const POLICY_FILE = path.join(ROOT, '.lineage.yaml');
const TODAY = new Date('2026-12-03T12:00:00Z');

const POLICY_TEXT = `blocked_organisations: [evil-org]
allowed_organisations: [acme, sshleifer, evil-org]
required_base_verdicts: [identical, same-weights, quantized, derived]
ignores:
  - code: LL003
    path: legacy/**
    reason: vendored scripts, reviewed
    expires: 2027-01-31
  - code: LL009
    id: acme/offline-only
    reason: downloaded at deploy time
    expires: 2026-11-30
  - code: LL005
    expires: 2027-01-01
  - { code: LL999, reason: typo, expires: 2027-01-01 }
`;

async function analysisOf(relativePath: string, text: string, statusOf: (id: string) => Partial<Parameters<typeof referenceStatus>[0]> = () => ({})): Promise<DocumentAnalysis> {
  const file = path.join(ROOT, relativePath);
  const uri = pathToFileURL(file).toString();
  const sites = await findReferences(text, file);
  const references: AnalyzedReference[] = sites.map((site) => ({ site, status: referenceStatus({ id: site.id, uri, range: site.range, ...statusOf(site.id) }) }));
  return { uri, version: 1, complete: true, references, startedAtMs: 0 };
}

describe('.lineage.yaml policy', () => {
  const policy = parsePolicy(POLICY_TEXT, POLICY_FILE);

  it('parses organisations, required verdicts and ignores with where each ignore is written', () => {
    assert.deepEqual(policy.problems, []);
    assert.deepEqual(policy.blockedOrganisations, ['evil-org']);
    assert.deepEqual(policy.requiredBaseVerdicts, ['identical', 'same-weights', 'quantized', 'derived']);
    const ignores = policy.ignores!;
    assert.equal(ignores.length, 4);
    assert.deepEqual([ignores[0]!.code, ignores[0]!.path, ignores[0]!.expires, ignores[0]!.invalid], ['LL003', 'legacy/**', '2027-01-31', undefined]);
    assert.equal(ignores[0]!.range.start.line, 4);
    assert.equal(ignores[2]!.invalid, 'no reason');
    assert.equal(ignores[3]!.invalid, 'unknown code LL999');
    assert.match(parsePolicy('ignores:\n  - { code: LL003, reason: r, expires: 2027-02-30 }\n').ignores![0]!.invalid!, /not a date/);
    assert.match(parsePolicy('required_base_verdicts: [derived, cousin]\n').problems[0]!, /unknown verdict\(s\) cousin/);
    assert.match(parsePolicy('a: [unclosed\n').problems[0]!, /\.lineage\.yaml/);
  });

  it('matches organisations and paths as case-insensitive globs', () => {
    assert.equal(organisationViolation(policy, 'Evil-Org'), 'blocked');
    assert.equal(organisationViolation(policy, 'someone-else'), 'not-allowed');
    assert.equal(organisationViolation(policy, 'acme'), undefined);
    assert.equal(organisationViolation(parsePolicy('allowed_organisations: [acme-*]\n'), 'acme-labs'), undefined);
    assert.ok(globToRegExp('legacy/**').test('legacy/a/b.py'));
    assert.ok(globToRegExp('**/*.py').test('top.py'));
    assert.ok(!globToRegExp('legacy/*').test('legacy/a/b.py'));
  });

  it('reports blocked and not-allowed organisations as LL012', async () => {
    const analysis = await analysisOf('app.py', 'from transformers import AutoModel\nAutoModel.from_pretrained("evil-org/model", revision="0123456789abcdef0123456789abcdef01234567")\nAutoModel.from_pretrained("stranger/model", revision="0123456789abcdef0123456789abcdef01234567")\n');
    const findings = computeFindings(analysis, {}, policy, { now: TODAY }).filter((f) => f.code === 'LL012');
    assert.deepEqual(findings.map((f) => [f.range.start.line, f.severity, f.message]), [
      [1, 'error', 'evil-org/model: organisation "evil-org" is blocked by blocked_organisations in .lineage.yaml'],
      [2, 'error', 'stranger/model: organisation "stranger" is not in allowed_organisations in .lineage.yaml'],
    ]);
  });

  it('reports a declared base below the required verdicts as LL012, but not an unverifiable one', async () => {
    const analysis = await analysisOf('app.py', 'from transformers import AutoModel\nAutoModel.from_pretrained("acme/fine-tune", revision="0123456789abcdef0123456789abcdef01234567")\n', () => ({
      lineage: {
        status: 'contradicted',
        matches: [],
        declared: [
          { baseModel: 'acme/base', source: 'card', status: 'contradicted', verdict: 'same-family', log10P: -2, detail: 'shares a vocabulary only' },
          { baseModel: 'acme/other', source: 'card', status: 'unverifiable', detail: 'not on this machine' },
        ],
        candidatesCompared: 2,
      },
    }));
    const findings = computeFindings(analysis, {}, policy, { now: TODAY }).filter((f) => f.code === 'LL012');
    assert.equal(findings.length, 1);
    assert.match(findings[0]!.message, /^declared base acme\/base is same-family \(p = 0\.01\); \.lineage\.yaml requires identical, same-weights, quantized, derived$/);
  });

  it('suppresses findings an ignore covers until it expires; an expired or invalid ignore is LL013 on the policy file', async () => {
    const unpinned = 'from transformers import AutoModel\nAutoModel.from_pretrained("acme/model")\n';
    const legacy = computeFindings(await analysisOf('legacy/old/train.py', unpinned), {}, policy, { now: TODAY });
    assert.ok(!legacy.some((f) => f.code === 'LL003'), 'LL003 is ignored under legacy/');
    const current = computeFindings(await analysisOf('src/train.py', unpinned), {}, policy, { now: TODAY });
    assert.ok(current.some((f) => f.code === 'LL003'), 'and only there');
    const later = computeFindings(await analysisOf('legacy/old/train.py', unpinned), {}, policy, { now: new Date('2027-02-01T00:00:00Z') });
    assert.ok(later.some((f) => f.code === 'LL003'), 'an expired ignore suppresses nothing');

    const policyDocument: DocumentAnalysis = { uri: pathToFileURL(POLICY_FILE).toString(), version: 1, complete: true, references: [], startedAtMs: 0 };
    const onPolicy = computeFindings(policyDocument, {}, policy, { now: TODAY });
    assert.deepEqual(onPolicy.map((f) => [f.code, f.severity, f.range.start.line]), [['LL013', 'warning', 8], ['LL013', 'warning', 12], ['LL013', 'warning', 14]]);
    assert.match(onPolicy[0]!.message, /^ignore of LL009 on acme\/offline-only expired on 2026-11-30 \("downloaded at deploy time"\)/);
    assert.match(onPolicy[1]!.message, /^LL005 in \.lineage\.yaml is not applied: no reason$/);
    // Another document of the workspace carries no LL013.
    assert.ok(!current.some((f) => f.code === 'LL013'));
  });
});
