// `lineage check` on a generated repository of 50 references (built CLI, dist/cli.js): .gitignore,
// the text, JSON, JUnit and SARIF reports (SARIF validated against the official 2.1.0 schema), --fail-on.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import { buildReferenceRepo, REFERENCE_COUNT, repoEnv, type ReferenceRepo } from '../fixtures/referenceRepo';
import { runCli } from '../support/cli';
import { ALL_DIAGNOSTIC_CODES } from '../../server/src/protocol';

const SARIF_SCHEMA = require.resolve('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');

interface JsonReport {
  summary: { references: number; errors: number; warnings: number; notes: number };
  files: Array<{ path: string; references: unknown[]; findings: Array<{ code: string; level: string; line: number; message: string }> }>;
}

interface SarifLog {
  runs: Array<{
    tool: { driver: { rules: Array<{ id: string; helpUri: string; help: { text: string } }> } };
    originalUriBaseIds: Record<string, { uri: string }>;
    results: Array<{ ruleId: string; level: string; locations: Array<{ physicalLocation: { artifactLocation: { uri: string; uriBaseId: string }; region: { startLine: number } } }>; partialFingerprints: Record<string, string> }>;
  }>;
}

describe('lineage check', function () {
  this.timeout(240_000);
  let fixture: ReferenceRepo;
  const check = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['check', '--root', fixture.repo, ...args], repoEnv(fixture, extra));

  before(async () => {
    fixture = await buildReferenceRepo();
  });
  after(async () => {
    await rm(fixture.root, { recursive: true, force: true });
  });

  it('finds the 50 references across every kind of document, honouring nested .gitignore files and negations', () => {
    const run = check(['--format', 'json', '--fail-on', 'never']);
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.equal(report.summary.references, REFERENCE_COUNT);
    const paths = report.files.map((f) => f.path);
    assert.ok(paths.includes('src/keep.generated.py'), 'a negated pattern re-includes the file');
    for (const ignored of ['build/stale.py', 'src/skip.generated.py', 'tools/scratch.py']) assert.ok(!paths.includes(ignored), `${ignored} is ignored`);
    for (const kind of ['src/train_0.py', 'configs/sft_0.yaml', 'cards/medical/README.md', 'exports/lora/adapter_config.json', 'web/generate.ts', 'web/classify.js', 'deploy/Dockerfile', 'scripts/serve.sh']) {
      assert.ok(paths.includes(kind), `${kind} is checked`);
    }
    assert.match(run.stderr, new RegExp(`^${REFERENCE_COUNT} references, \\d+ warnings?, \\d+ errors?`, 'm'));
  });

  it('prints findings grouped per file like stylish, with the one-line summary and no colour off a terminal', () => {
    const run = check(['--fail-on', 'never']);
    assert.equal(run.status, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /\x1b\[/, 'no ANSI escapes when stdout is not a TTY');
    assert.match(run.stdout, /^warnings\/unpinned\.py\n {2}2:\d+ +warning +acme\/tiny-gpt2-medical is not pinned.*LL003$/m);
    const summary = run.stdout.trimEnd().split('\n').pop()!;
    assert.match(summary, new RegExp(`^${REFERENCE_COUNT} references, \\d+ warnings?, \\d+ errors?, \\d+ notes? \\(\\d+ files in [\\d.]+ s\\)$`));
  });

  it('gives each --fail-on level its exit code', () => {
    // The whole repository has errors (unpinned trust_remote_code), warnings and notes.
    assert.equal(check(['--fail-on', 'error']).status, 1);
    assert.equal(check(['--fail-on', 'never']).status, 0);
    // Notes only: fails on note, passes on warning and error.
    const notes = path.join(fixture.repo, 'notes');
    assert.equal(check([notes, '--fail-on', 'note']).status, 1);
    assert.equal(check([notes, '--fail-on', 'warning']).status, 0);
    assert.equal(check([notes, '--fail-on', 'error']).status, 0);
    // Warnings at most: fails on warning, passes on error.
    const warnings = path.join(fixture.repo, 'warnings', 'unpinned.py');
    assert.equal(check([warnings, '--fail-on', 'warning']).status, 1);
    assert.equal(check([warnings, '--fail-on', 'error']).status, 0);
    // The default is error; a bad level is a usage error.
    assert.equal(check([warnings]).status, 0);
    assert.equal(check(['--fail-on', 'sometimes']).status, 2);
    // Codes turned off no longer fail the run (the shipped database knows the zoo's medical model under
    // its original name, so this copy is also a re-upload: LL010).
    assert.equal(check([warnings, '--fail-on', 'warning', '--severity', 'LL003=off']).status, 1);
    assert.equal(check([warnings, '--fail-on', 'warning', '--severity', 'LL003=off', '--severity', 'LL010=off']).status, 0);
  });

  it('writes SARIF 2.1.0 that validates against the official schema, with a rule per code, relative URIs and stable fingerprints', async () => {
    const first = check(['--format', 'sarif', '--fail-on', 'never']);
    assert.equal(first.status, 0, first.stderr);
    // The schema is JSON Schema draft-04 (as OASIS publishes it), and one of its patterns is not valid under the u flag.
    const ajv = new AjvDraft04({ strict: false, allErrors: true, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(SARIF_SCHEMA, 'utf8')) as object);
    const log = JSON.parse(first.stdout) as SarifLog;
    assert.ok(validate(log), JSON.stringify(validate.errors?.slice(0, 5), null, 2));
    // The validator does reject what the schema forbids.
    assert.equal(validate({ ...log, runs: [{ ...log.runs[0]!, results: [{ ...log.runs[0]!.results[0]!, level: 'fatal' }] }] }), false);
    const run = log.runs[0]!;
    assert.deepEqual(run.tool.driver.rules.map((r) => r.id), [...ALL_DIAGNOSTIC_CODES]);
    assert.equal((run.tool.driver as { semanticVersion?: string }).semanticVersion, (JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
    for (const rule of run.tool.driver.rules) assert.match(rule.helpUri, new RegExp(`README\\.md#${rule.id.toLowerCase()}$`));
    assert.equal(run.originalUriBaseIds['SRCROOT']!.uri, `file://${fixture.repo}/`);
    assert.ok(run.results.length > 0);
    for (const result of run.results) {
      const location = result.locations[0]!.physicalLocation.artifactLocation;
      assert.equal(location.uriBaseId, 'SRCROOT');
      assert.ok(!location.uri.startsWith('/') && !location.uri.includes(':'), `${location.uri} is relative`);
    }
    const fingerprints = (sarif: SarifLog) => sarif.runs[0]!.results.map((r) => `${r.locations[0]!.physicalLocation.artifactLocation.uri} ${r.ruleId} ${Object.values(r.partialFingerprints)[0]}`).sort();
    const all = fingerprints(log);
    assert.equal(new Set(all).size, all.length, 'every result has its own fingerprint');

    // A second run, after a line is inserted above every finding of a file: same fingerprints.
    const file = path.join(fixture.repo, 'src', 'train_0.py');
    const original = await readFile(file, 'utf8');
    await writeFile(file, `# a comment that moves every line\n${original}`);
    try {
      const second = JSON.parse(check(['--format', 'sarif', '--fail-on', 'never']).stdout) as SarifLog;
      assert.deepEqual(fingerprints(second), all);
      const moved = second.runs[0]!.results.find((r) => r.locations[0]!.physicalLocation.artifactLocation.uri === 'src/train_0.py')!;
      const before = run.results.find((r) => r.locations[0]!.physicalLocation.artifactLocation.uri === 'src/train_0.py' && r.ruleId === moved.ruleId && Object.values(r.partialFingerprints)[0] === Object.values(moved.partialFingerprints)[0])!;
      assert.equal(moved.locations[0]!.physicalLocation.region.startLine, before.locations[0]!.physicalLocation.region.startLine + 1);
    } finally {
      await writeFile(file, original);
    }
  });

  it('writes JUnit XML with a test case per file and failures at the --fail-on level', () => {
    const run = check(['--format', 'junit', '--fail-on', 'warning']);
    assert.equal(run.status, 1);
    const cases = run.stdout.match(/<testcase /g) ?? [];
    const report = JSON.parse(check(['--format', 'json', '--fail-on', 'never']).stdout) as JsonReport;
    assert.equal(cases.length, report.files.length);
    assert.match(run.stdout, /<testcase classname="lineage" name="warnings\/unpinned\.py" file="warnings\/unpinned\.py">\n {6}<failure type="LL003"/);
    assert.match(run.stdout, /<testcase classname="lineage" name="notes\/pinned_only\.py" file="notes\/pinned_only\.py">\n {6}<system-out>/);
  });
});
