// Unit tests of the pure views of Hub metadata: the summary of a lookup (formats, bounded file list),
// LL009/LL005/LL003 messages and severities, the pin quick fix, and the hover's escaped Hub lines.
import * as assert from 'node:assert/strict';
import type { CodeAction, Diagnostic } from 'vscode-languageserver';
import type { HubModelMetadata } from '../../server/src/core/hub';
import { parseModelReference } from '../../server/src/core/model/reference';
import { computeCodeActions } from '../../server/src/lsp/features/codeActions';
import { pinCommitOf } from '../../server/src/analysis/referenceFacts';
import { computeDiagnostics } from '../../server/src/lsp/features/diagnostics';
import type { AnalyzedReference, DocumentAnalysis } from '../../server/src/analysis/documentAnalysis';
import { escapeMarkdown, hoverMarkdown } from '../../server/src/lsp/features/hover';
import { hubWeightFormatOf, summarizeHubMetadata } from '../../server/src/analysis/oracles/hubLookups';
import { NOT_APPLICABLE_LINEAGE } from '../../server/src/analysis/lineage';
import type { LineagePolicy } from '../../server/src/analysis/policy';
import { MAX_HUB_WEIGHT_FILES, type HubFacts, type HubRepoFacts, type LineageSettings, type Resolution } from '../../server/src/protocol';
import type { ModelReferenceSite } from '../../server/src/references';
import { DEFAULT_SETTINGS } from '../../server/src/lsp/settings';
import { referenceStatus } from '../client/referenceStatus';

const HUB_COMMIT = 'abcdef1234567890abcdef1234567890abcdef12';
const REGISTRY_COMMIT = '9'.repeat(40);
const ENDPOINT = 'https://huggingface.co';
const URI = 'file:///ws/app.py';
const LINE = 1;
const ID_START = 43;

function hubFacts(overrides: Partial<HubRepoFacts> = {}): HubRepoFacts {
  return {
    endpoint: ENDPOINT,
    repoId: 'acme/x',
    commit: HUB_COMMIT,
    revisionAsked: 'main',
    fileCount: 3,
    weightFiles: ['model.safetensors'],
    formats: ['safetensors'],
    baseModels: [],
    ...overrides,
  };
}

/** `m = AutoModelForCausalLM.from_pretrained("<id>")` on line 1, not on this machine. */
function unavailableReference(id: string, hub: HubFacts | undefined, resolution: Partial<Resolution> = {}): AnalyzedReference {
  const range = { start: { line: LINE, character: ID_START }, end: { line: LINE, character: ID_START + id.length } };
  const site: ModelReferenceSite = {
    id,
    range,
    loader: 'AutoModelForCausalLM.from_pretrained',
    kind: 'model',
    flags: {},
    insertion: { position: { line: LINE, character: range.end.character + 1 }, needsComma: true, style: 'python-keyword' },
  };
  const reference = parseModelReference(id);
  if (reference) site.reference = reference;
  const status = referenceStatus({
    id,
    uri: URI,
    range,
    resolution: { kind: 'unavailable', repoId: id, detail: `${id} is not in the workspace or the local Hugging Face cache (/cache)`, ...resolution },
    lineage: NOT_APPLICABLE_LINEAGE,
  });
  if (hub) status.hub = hub;
  return { site, status };
}

function analysisOf(...references: AnalyzedReference[]): DocumentAnalysis {
  return { uri: URI, version: 1, complete: true, references, startedAtMs: 0 };
}

function settingsWith(severity: LineageSettings['diagnostics']['severity'] = {}): LineageSettings {
  return { ...DEFAULT_SETTINGS, diagnostics: { severity } };
}

/** The message of the one diagnostic with `code` (this server sends plain-text messages). */
function only(diagnostics: Diagnostic[], code: string): Diagnostic & { message: string } {
  const found = diagnostics.filter((d) => d.code === code);
  assert.equal(found.length, 1, `one ${code}: ${JSON.stringify(diagnostics)}`);
  const diagnostic = found[0]!;
  assert.equal(typeof diagnostic.message, 'string');
  return diagnostic as Diagnostic & { message: string };
}

const NOT_FOUND: HubFacts = { endpoint: ENDPOINT, problem: 'not-found', detail: `acme/typo@main on ${ENDPOINT}: repo not found (HTTP 404)` };

describe('Hub facts: summary of a lookup', () => {
  it('names weight formats by extension, pickles apart from GGML .bin files', () => {
    const expected: Array<[string, string | undefined]> = [
      ['model.safetensors', 'safetensors'],
      ['sub/Model-00001-of-00002.SAFETENSORS', 'safetensors'],
      ['q4.gguf', 'gguf'],
      ['onnx/model.onnx', 'onnx'],
      ['pytorch_model.bin', 'pytorch pickle'],
      ['original/consolidated.00.pth', 'pytorch pickle'],
      ['model.ckpt', 'pytorch pickle'],
      ['ggml-model-q4_0.bin', 'ggml'],
      ['tf_model.h5', 'tensorflow h5'],
      ['flax_model.msgpack', 'flax msgpack'],
      ['model.safetensors.index.json', undefined],
      ['README.md', undefined],
      ['bin', undefined],
    ];
    for (const [file, format] of expected) assert.equal(hubWeightFormatOf(file), format, file);
  });

  it('keeps every format, safest first, a bounded list of names, and only what a client needs', () => {
    const files = [
      { path: 'config.json', sizeBytes: 1 },
      { path: 'pytorch_model.bin', sizeBytes: 2 },
      ...Array.from({ length: MAX_HUB_WEIGHT_FILES + 5 }, (_, i) => ({ path: `shards/model-${i}.safetensors` })),
      { path: 'onnx/model.onnx' },
    ];
    const metadata: HubModelMetadata = {
      repoId: 'Acme/X', revisionAsked: 'main', commit: HUB_COMMIT, files, filesTruncated: false, rejectedPaths: 0,
      gated: false, private: false, licence: 'mit', baseModels: ['org/base'], libraryName: 'transformers', lastModified: '2024-01-01T00:00:00.000Z',
    };
    const facts = summarizeHubMetadata(ENDPOINT, metadata);
    assert.deepEqual(facts.formats, ['safetensors', 'onnx', 'pytorch pickle']);
    assert.equal(facts.weightFiles.length, MAX_HUB_WEIGHT_FILES);
    assert.equal(facts.weightFiles[0], 'pytorch_model.bin');
    assert.deepEqual(Object.keys(facts).sort(), ['baseModels', 'commit', 'endpoint', 'fileCount', 'formats', 'licence', 'repoId', 'revisionAsked', 'weightFiles']);
    assert.equal(facts.fileCount, files.length);

    const gated = summarizeHubMetadata(ENDPOINT, { ...metadata, gated: 'manual', filesTruncated: true });
    assert.equal(gated.gated, 'manual');
    assert.equal(gated.filesTruncated, true);
  });
});

describe('Hub facts: diagnostics', () => {
  it('LL009 says where the Hub has the model, in one sentence, as a hint', () => {
    const diagnostic = only(computeDiagnostics(analysisOf(unavailableReference('acme/x', hubFacts())), settingsWith(), undefined), 'LL009');
    assert.equal(diagnostic.message, 'acme/x is not downloaded; the Hub has it at commit abcdef123456 (3 files: safetensors).');
    assert.equal(diagnostic.severity, 4);
  });

  it('LL009 keeps the cached-elsewhere detail, names a renamed repo and a commit the registry fingerprinted', () => {
    const otherCommit = unavailableReference('acme/x', hubFacts({ repoId: 'acme-labs/x', formats: [], fileCount: 1 }), {
      detail: 'acme/x is cached, but not at v2 (cached commits: 111111111111)',
      otherCachedCommits: ['1'.repeat(40)],
    });
    assert.match(only(computeDiagnostics(analysisOf(otherCommit), settingsWith(), undefined), 'LL009').message, /^acme\/x is cached, but not at v2 \(cached commits: 111111111111\); the Hub has it \(as acme-labs\/x\) at commit abcdef123456 \(1 file, no weights\)/);

    const registry = unavailableReference('acme/x', hubFacts(), { kind: 'registry', commit: HUB_COMMIT, detail: 'acme/x is not on this machine; the registry holds its fingerprint' });
    assert.match(only(computeDiagnostics(analysisOf(registry), settingsWith(), undefined), 'LL009').message, /^acme\/x is not downloaded; the Hub has it at commit abcdef123456, the commit the registry fingerprinted \(3 files/);
  });

  it('LL009 for an id the Hub does not know is a warning unless the user or the policy chose its severity', () => {
    const analysis = analysisOf(unavailableReference('acme/typo', NOT_FOUND));
    const diagnostic = only(computeDiagnostics(analysis, settingsWith(), undefined), 'LL009');
    assert.equal(diagnostic.severity, 2);
    assert.equal(diagnostic.message, 'acme/typo cannot be downloaded as written: the Hub does not know this id (a typo, or a deleted or private repository). Check the id.');
    assert.equal(only(computeDiagnostics(analysis, settingsWith({ LL009: 'information' }), undefined), 'LL009').severity, 3);
    assert.deepEqual(computeDiagnostics(analysis, settingsWith({ LL009: 'off' }), undefined).filter((d) => d.code === 'LL009'), []);
    const policy: LineagePolicy = { severity: { LL009: 'hint' }, problems: [] };
    assert.equal(only(computeDiagnostics(analysis, settingsWith(), policy), 'LL009').severity, 4);

    const revision: HubFacts = { endpoint: ENDPOINT, problem: 'revision-not-found', detail: 'acme/x@v9 on …: revision not found (HTTP 404)' };
    const missingRevision = only(computeDiagnostics(analysisOf(unavailableReference('acme/x', revision)), settingsWith(), undefined), 'LL009');
    assert.equal(missingRevision.severity, 2);
    assert.match(missingRevision.message, /the Hub has no such revision of it\. Check the revision\.$/);
  });

  it('LL009 leaves a Hub that could not be reached to the status bar: no raw error, no cache folders', () => {
    const offline: HubFacts = { endpoint: ENDPOINT, problem: 'offline', detail: `acme/x@main on ${ENDPOINT}: cannot connect (ENOTFOUND)` };
    const diagnostic = only(computeDiagnostics(analysisOf(unavailableReference('acme/x', offline)), settingsWith(), undefined), 'LL009');
    assert.equal(diagnostic.severity, 4);
    assert.equal(diagnostic.message, 'acme/x is not downloaded.');
    const endpoint: HubFacts = { problem: 'invalid-endpoint', detail: 'the Hub endpoint is not a valid URL' };
    assert.equal(only(computeDiagnostics(analysisOf(unavailableReference('acme/x', endpoint)), settingsWith(), undefined), 'LL009').message, 'acme/x is not downloaded; the Hub endpoint setting cannot be used.');
  });

  it('LL005 for a repo whose Hub files are pickles only; not when a safe format or a cut-off list is there', () => {
    const pickles = hubFacts({ weightFiles: ['pytorch_model.bin', 'training_args.bin'], formats: ['pytorch pickle'] });
    const diagnostic = only(computeDiagnostics(analysisOf(unavailableReference('acme/x', pickles)), settingsWith(), undefined), 'LL005');
    assert.equal(diagnostic.severity, 2);
    assert.match(diagnostic.message, /^acme\/x ships pickle weights only on the Hub \(pytorch_model\.bin, training_args\.bin\); loading a pickle can run code\./);
    for (const facts of [hubFacts({ formats: ['safetensors', 'pytorch pickle'] }), hubFacts({ formats: ['onnx', 'pytorch pickle'] }), { ...pickles, filesTruncated: true as const }, hubFacts({ formats: ['ggml'] })]) {
      assert.deepEqual(computeDiagnostics(analysisOf(unavailableReference('acme/x', facts)), settingsWith(), undefined).filter((d) => d.code === 'LL005'), [], JSON.stringify(facts.formats));
    }
  });

  it('LL003 and its quick fix pin to the Hub commit, after cached and registry commits', () => {
    const reference = unavailableReference('acme/x', hubFacts());
    const analysis = analysisOf(reference);
    const diagnostics = computeDiagnostics(analysis, settingsWith(), undefined);
    const unpinned = only(diagnostics, 'LL003');
    assert.match(unpinned.message, /Pin a 40-hex commit\. The Hub's current commit of main is abcdef123456\.$/);
    assert.deepEqual(unpinned.data, { referenceIndex: 0, commit: HUB_COMMIT });
    const actions = computeCodeActions(analysis, unpinned.range, [unpinned]) as CodeAction[];
    const pin = actions.find((a) => a.title.startsWith('Pin revision'));
    assert.equal(pin?.title, "Pin revision to abcdef123456… (the Hub's current commit of main)");
    assert.deepEqual(pin.edit?.changes?.[URI]?.map((e) => e.newText), [`, revision="${HUB_COMMIT}"`]);

    assert.deepEqual(pinCommitOf(reference.status), { commit: HUB_COMMIT, origin: 'hub', revisionAsked: 'main' });
    const registry = unavailableReference('acme/x', hubFacts(), { kind: 'registry', commit: REGISTRY_COMMIT }).status;
    assert.deepEqual(pinCommitOf(registry), { commit: REGISTRY_COMMIT, origin: 'registry' });
    assert.equal(pinCommitOf(unavailableReference('acme/x', NOT_FOUND).status), undefined);
  });
});

describe('Hub facts: hover', () => {
  it('shows commit, files, formats, licence, gating and the declared bases', () => {
    const markdown = hoverMarkdown(unavailableReference('acme/x', hubFacts({ licence: 'apache-2.0', gated: 'manual', baseModels: ['meta-llama/Llama-3.1-8B'] })));
    const hubLine = markdown.split('\n').find((l) => l.startsWith('**Hub:**'));
    assert.equal(hubLine, `**Hub:** acme\\/x at \`${HUB_COMMIT}\` (the current commit of main) · 3 files\\: safetensors · licence apache\\-2\\.0 · gated \\(manual approval\\)`);
    assert.match(markdown, /\*\*Hub weight files:\*\* model\\\.safetensors/);
    assert.match(markdown, /\*\*Hub card base_model:\*\* meta\\-llama\\\/Llama\\-3\\\.1\\-8B \(declared by the card, not verified\)/);
  });

  it('shows why the Hub had no answer', () => {
    assert.match(hoverMarkdown(unavailableReference('acme/typo', NOT_FOUND)), /\*\*Hub:\*\* the Hub does not know this id/);
  });

  it('escapes every Hub-provided text: no link, image, emphasis, code span or HTML survives', () => {
    const hostile = hubFacts({
      repoId: 'evil/x',
      licence: '[click](https://evil.example)',
      weightFiles: ['a`b`*c*_d_<img src=x>.bin', '![i](https://evil.example/i.png).bin'],
      baseModels: ['x/__bold__'],
    });
    const hubText = hoverMarkdown(unavailableReference('evil/x', hostile)).split('\n').filter((l) => l.startsWith('**Hub')).join('\n');
    // Outside the fixed bold labels and the 40-hex commit span, no markup character is left unescaped.
    const payload = hubText.replace(/\*\*Hub[^*]*:\*\*/g, '').replace(`\`${HUB_COMMIT}\``, '');
    assert.doesNotMatch(payload, /(^|[^\\])[`*_[\]<>!]/, payload);
    assert.equal(escapeMarkdown('a_b*c`d[e]<f>\\g'), 'a\\_b\\*c\\`d\\[e\\]\\<f\\>\\\\g');
  });
});
