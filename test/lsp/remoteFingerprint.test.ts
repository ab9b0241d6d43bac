// Remote fingerprints in the editor: the built server (dist/server.js over stdio) reads Hub models
// that are on no disk from a loopback mock Hub serving zoo files, in the slow stage and within the
// workspace's byte budget, and shows the verdict in hovers; HF_HUB_OFFLINE=1 sends nothing.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildHfCache } from '../fixtures/hfCacheBuilder';
import { commitOf, repoFromFolder, startMockHub, type MockHub } from '../support/mockHub';
import { zooPath } from '../support/zoo';
import { WorkspaceTrustedNotification } from '../../server/src/protocol';
import { fileUri, LspTestClient, SERVER_PATH } from './lspClient';

const MEDICAL = 'acme/remote-medical';
const MEDICAL_COPY = 'acme/remote-medical-copy';
const BASE_REMOTE = 'acme/remote-base';
const LOCAL_BASE_COMMIT = '1111111111111111111111111111111111111111';

function pythonLoading(repoId: string): string {
  return `from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained("${repoId}")\n`;
}

function hoverText(hover: Awaited<ReturnType<LspTestClient['hover']>>): string {
  assert.ok(hover && typeof hover.contents === 'object' && 'value' in hover.contents, 'a markdown hover');
  return hover.contents.value;
}

/** Hover markdown escapes punctuation in untrusted text; tests read it unescaped. */
function unescaped(markdown: string): string {
  return markdown.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** Requests that read files (resolve on the Hub, anything on the storage origin), not metadata lookups. */
function fileReads(hub: MockHub, repoId?: string): number {
  const resolves = hub.requests.filter((r) => r.path.includes('/resolve/') && (repoId === undefined || r.path.toLowerCase().startsWith(`/${repoId.toLowerCase()}/`))).length;
  return resolves + (repoId === undefined ? hub.storage.requests.length : 0);
}

describe('remote fingerprints in the editor (dist/server.js, mock Hub serving zoo models)', function () {
  this.timeout(120_000);
  let root: string;
  let cacheRoot: string;
  let workspace: string;
  let hub: MockHub;
  let client: LspTestClient | undefined;

  before(async () => {
    if (!existsSync(SERVER_PATH)) throw new Error(`${SERVER_PATH} is missing: run node scripts/build.mjs first`);
    root = await mkdtemp(path.join(os.tmpdir(), 'lineage-remote-lsp-'));
    cacheRoot = path.join(root, 'hf-cache');
    workspace = path.join(root, 'workspace');
    // Only the base is on this machine: the fine-tune is read from the Hub and found derived from it.
    const gpt2 = (folder: string): Record<string, string> =>
      Object.fromEntries(['model.safetensors', 'config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'].map((name) => [name, zooPath(folder, name)]));
    await buildHfCache(cacheRoot, [{ repoId: 'sshleifer/tiny-gpt2', commit: LOCAL_BASE_COMMIT, files: gpt2('tiny-gpt2') }]);
    await mkdir(workspace, { recursive: true });
    // A model folder holding the fine-tune, whose card declares a base that is on no disk.
    const myModel = path.join(workspace, 'my-model');
    await mkdir(myModel, { recursive: true });
    for (const name of ['model.safetensors', 'config.json', 'vocab.json', 'merges.txt']) await copyFile(zooPath('tiny-gpt2-medical', name), path.join(myModel, name));
    await writeFile(path.join(myModel, 'README.md'), `---\nlicense: mit\nbase_model: ${BASE_REMOTE}\n---\n# My model\n`);
    hub = await startMockHub([
      repoFromFolder(MEDICAL, zooPath('tiny-gpt2-medical')),
      repoFromFolder(MEDICAL_COPY, zooPath('tiny-gpt2-medical')),
      repoFromFolder(BASE_REMOTE, zooPath('tiny-gpt2')),
    ]);
  });
  beforeEach(() => {
    hub.requests.length = 0;
    hub.storage.requests.length = 0;
    hub.storage.bytesSent = 0;
    hub.fileBytesSent = 0;
    hub.hold = undefined;
  });
  afterEach(async () => {
    await client?.stop();
    client = undefined;
  });
  after(async () => {
    await hub.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A server with the Hub allowed at the mock, the fixture cache only, and its own Lineage cache folder. */
  const start = (lineageCache: string, env: NodeJS.ProcessEnv = {}, hubSettings: Record<string, unknown> = {}, workspaceTrusted?: boolean): Promise<LspTestClient> =>
    LspTestClient.start({
      workspaceFolder: workspace,
      ...(workspaceTrusted === undefined ? {} : { workspaceTrusted }),
      env: {
        HF_HUB_CACHE: cacheRoot,
        HF_HOME: path.join(root, 'hf-home'),
        XDG_CACHE_HOME: path.join(root, 'xdg'),
        HOME: root,
        HF_HUB_OFFLINE: '',
        TRANSFORMERS_OFFLINE: '',
        HF_ENDPOINT: hub.url,
        HF_TOKEN: 'hf_remote_test',
        HUGGING_FACE_HUB_TOKEN: '',
        LINEAGE_CACHE_DIR: lineageCache,
        ...env,
      },
      settings: { registry: { includeShipped: false, path: path.join(lineageCache, 'registry.sqlite') }, hub: hubSettings },
    });

  const analyzed = async (lsp: LspTestClient, file: string, text: string): Promise<string> => {
    const uri = fileUri(path.join(workspace, file));
    await lsp.open(uri, 'python', text);
    await lsp.waitForAnalyzed(uri, 1, 60_000);
    return uri;
  };

  it('publishes first, then reads the model from the Hub and shows its verdict in the hover, and the next session reads nothing', async () => {
    const lineageCache = await mkdtemp(path.join(root, 'lineage-cache-'));
    let release!: () => void;
    hub.hold = new Promise((resolve) => (release = resolve));
    client = await start(lineageCache);
    const lsp = client;
    const uri = fileUri(path.join(workspace, 'app.py'));
    await lsp.open(uri, 'python', pythonLoading(MEDICAL));
    // The Hub answers nothing yet: the resolved stage is published without waiting for it.
    await lsp.waitFor('the first diagnostics', () => lsp.diagnostics.get(uri));
    assert.equal(hub.storage.requests.length, 0, 'no file was read before the first publish');
    release();
    hub.hold = undefined;
    await lsp.waitForAnalyzed(uri, 1, 60_000);

    const hover = unescaped(hoverText(await lsp.hover(uri, 1, 52)));
    assert.match(hover, /\*\*Lineage:\*\* verified: derived from sshleifer\/tiny-gpt2 \(p [=<≤] \d(?:\.\d)?e-\d+/);
    const commit = commitOf(MEDICAL);
    const read = /\*\*Remote fingerprint:\*\* read from the Hub at (\w+) by range requests: ([\d.]+ (?:KiB|MiB)) in (\d+) requests/.exec(hover);
    assert.ok(read, hover);
    assert.equal(read[1], commit.slice(0, 12));
    assert.ok(Number(read[3]) > 0);
    assert.match(hover, /\*\*Format:\*\* safetensors/);
    const ll009 = lsp.diagnosticsOf(uri).find((d) => d.code === 'LL009');
    assert.match(typeof ll009?.message === 'string' ? ll009.message : JSON.stringify(lsp.diagnosticsOf(uri)), /the Hub has it at commit \w{12} .*Its lineage was checked from the Hub by range reads/);
    assert.ok(hub.storage.requests.length > 0 && hub.storage.requests.every((r) => r.range !== undefined), 'weights were read by range requests');
    assert.ok(hub.storage.requests.every((r) => r.authorization === undefined), 'the token never reaches the storage origin');
    // A 413 KB file is small enough that its first and last 256 KiB windows cover it (one round trip
    // instead of dozens); what range reads save on real models is bench:remote's 7B measurement.
    assert.ok(hub.storage.bytesSent <= 413_296, `never more bytes than the file holds (${hub.storage.bytesSent})`);
    assert.ok(lsp.progressTokens.length > 0, 'work-done progress was reported');
    await lsp.stop();
    client = undefined;

    // A new session: the inspection cache answers by repo + commit + extractor version; no file is read.
    hub.requests.length = 0;
    hub.storage.requests.length = 0;
    client = await start(lineageCache);
    const again = await analyzed(client, 'app.py', pythonLoading(MEDICAL));
    const second = unescaped(hoverText(await client.hover(again, 1, 52)));
    assert.match(second, /\*\*Lineage:\*\* verified: derived from sshleifer\/tiny-gpt2/);
    assert.match(second, /\*\*Remote fingerprint:\*\* fingerprinted from the Hub at \w{12} in an earlier session \(nothing read now\)/);
    assert.equal(fileReads(hub), 0, `no file read in the second session: ${JSON.stringify(hub.requests)}`);
  });

  it('checks a declared base_model that is on no disk against the base read from the Hub', async () => {
    client = await start(await mkdtemp(path.join(root, 'lineage-cache-')));
    const uri = fileUri(path.join(workspace, 'my-model', 'README.md'));
    await client.open(uri, 'markdown', `---\nlicense: mit\nbase_model: ${BASE_REMOTE}\n---\n# My model\n`);
    await client.waitForAnalyzed(uri, 1, 60_000);
    const hover = unescaped(hoverText(await client.hover(uri, 2, 15)));
    assert.match(hover, new RegExp(`declares \`${BASE_REMOTE}\` \\(.*\\): \\*\\*confirmed\\*\\* \\(derived from it, p [=<≤] \\d(?:\\.\\d)?e-\\d+\\): checked against ${BASE_REMOTE} at ${commitOf(BASE_REMOTE).slice(0, 12)} read from the Hub \\([\\d.]+ (KiB|MiB) in \\d+ requests\\)`), hover);
    assert.ok(fileReads(hub, BASE_REMOTE) > 0);
  });

  it('sends no request at all with HF_HUB_OFFLINE=1, and reads no file with lineage.hub.remoteFingerprint off', async () => {
    client = await start(await mkdtemp(path.join(root, 'lineage-cache-')), { HF_HUB_OFFLINE: '1' });
    const uri = await analyzed(client, 'offline.py', pythonLoading(MEDICAL));
    const hover = unescaped(hoverText(await client.hover(uri, 1, 52)));
    assert.match(hover, /\*\*Lineage:\*\* not fingerprinted/);
    assert.doesNotMatch(hover, /Remote fingerprint/);
    assert.equal(hub.requests.length, 0);
    assert.equal(hub.storage.requests.length, 0);
    await client.stop();

    client = await start(await mkdtemp(path.join(root, 'lineage-cache-')), {}, { remoteFingerprint: 'off' });
    const off = await analyzed(client, 'off.py', pythonLoading(MEDICAL));
    const offHover = unescaped(hoverText(await client.hover(off, 1, 52)));
    assert.match(offHover, /\*\*Hub:\*\* acme\/remote-medical at/, 'the metadata lookup still runs');
    assert.doesNotMatch(offHover, /Remote fingerprint/);
    assert.equal(fileReads(hub), 0);
  });

  it('reads nothing in an untrusted workspace until the client says it is trusted (lineage/workspaceTrusted)', async () => {
    client = await start(await mkdtemp(path.join(root, 'lineage-cache-')), {}, {}, false);
    const uri = await analyzed(client, 'untrusted.py', pythonLoading(MEDICAL));
    assert.doesNotMatch(unescaped(hoverText(await client.hover(uri, 1, 52))), /Remote fingerprint/);
    assert.equal(fileReads(hub), 0);
    await client.connection.sendNotification(WorkspaceTrustedNotification.method, {});
    const lsp = client;
    // Trust re-analyses the open documents: a second analysis of the same version.
    await lsp.waitFor('the analysis after trust', () => (lsp.analyzed.filter((a) => a.uri === uri).length >= 2 ? true : undefined), 60_000);
    const hover = unescaped(hoverText(await lsp.hover(uri, 1, 52)));
    assert.match(hover, /\*\*Lineage:\*\* verified: derived from sshleifer\/tiny-gpt2/);
    assert.match(hover, /\*\*Remote fingerprint:\*\* read from the Hub/);
    assert.ok(fileReads(hub) > 0);
  });

  it('stops remote reads when the workspace budget is spent, and says so on later references', async () => {
    const budgetBytes = 3 * 1024 * 1024;
    client = await start(await mkdtemp(path.join(root, 'lineage-cache-')), {}, { remoteBudgetBytes: budgetBytes });
    // The fine-tune (about 1.7 MB of files) fits; the base (4.5 MB: a 3.5 MB tokenizer.json) does not fit what is left.
    const first = await analyzed(client, 'first.py', pythonLoading(MEDICAL));
    assert.match(unescaped(hoverText(await client.hover(first, 1, 52))), /\*\*Lineage:\*\* verified: derived from sshleifer\/tiny-gpt2/);
    const second = await analyzed(client, 'second.py', pythonLoading(BASE_REMOTE));
    const secondHover = unescaped(hoverText(await client.hover(second, 1, 52)));
    assert.match(secondHover, /\*\*Remote fingerprint:\*\* not fingerprinted from the Hub at \w{12} \(.*\): the workspace's budget for reading models from the Hub is spent \([\d.]+ MiB of 3\.00 MiB, lineage\.hub\.remoteBudgetBytes\)/);
    assert.doesNotMatch(secondHover, /\*\*Lineage:\*\* verified/);
    const readsBefore = fileReads(hub, MEDICAL_COPY);
    const third = await analyzed(client, 'third.py', pythonLoading(MEDICAL_COPY));
    assert.match(unescaped(hoverText(await client.hover(third, 1, 52))), /budget for reading models from the Hub is spent/);
    assert.equal(fileReads(hub, MEDICAL_COPY), readsBefore, 'a spent budget reads no file');
    const sent = hub.storage.bytesSent + hub.fileBytesSent;
    assert.ok(sent <= budgetBytes, `the mock sent ${sent} bytes of files, over the budget of ${budgetBytes}`);
  });
});
