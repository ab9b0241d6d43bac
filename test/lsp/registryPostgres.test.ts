// The organisation registry inside the language server, over the protocol: `lineage.registry.url` names a
// PostgreSQL registry (the throwaway cluster of scripts/ci/start-postgres.sh) whose entry verifies a local
// fine-tune; a password written in the setting is ignored with one warning; an unreachable database gives
// one clear message naming the host and the analysis goes on; no password ever reaches a message or a log.
import * as assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { closeSide, loadSide } from '../../server/src/core/compare/compareModels';
import { entryMetaFor, openPgRegistry } from '../../server/src/core/registry';
import { RegistryInfoRequest, RegistryPasswordNotification, ServerCommands, type RegistryInfoResult, type RegistryPasswordParams } from '../../server/src/protocol';
import { makeSyntheticLlama } from '../fixtures/syntheticModels';
import { fineTuneDrift } from '../fixtures/transformations';
import { writeModelFolder } from '../fixtures/writeModel';
import { createScratchDatabase, postgresTestUrl } from '../support/postgres';
import { fileUri, LspTestClient } from './lspClient';

const APP_PY = ['from transformers import AutoModelForCausalLM', 'tuned = AutoModelForCausalLM.from_pretrained("./models/synthetic-finetune")', ''].join('\n');
const TUNED_LINE = 1;
const PASSWORD_IN_SETTING = 'Sup3rSecretInSettings';
const EDITOR_PASSWORD = 'N0t-In-Logs-Editor-pw';

interface Workspace {
  root: string;
  workspace: string;
  base: string;
  env: NodeJS.ProcessEnv;
}

/** A workspace with a local fine-tune whose base is on no disk; empty caches, no user registry, offline. */
async function buildWorkspace(): Promise<Workspace> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'lineage-lsp-pg-'));
  const workspace = path.join(root, 'workspace');
  const base = path.join(root, 'elsewhere', 'synthetic-base');
  const model = makeSyntheticLlama({ hidden: 256, layers: 2, heads: 8, kvHeads: 4, ffn: 512, vocab: 1000, seed: 'lsp-pg-base' });
  await writeModelFolder(model, base, { format: 'safetensors' });
  await writeModelFolder(fineTuneDrift(model, { relativeScale: 0.02, seed: 'lsp-pg-tune' }), path.join(workspace, 'models', 'synthetic-finetune'), { format: 'safetensors' });
  await writeFile(path.join(workspace, 'app.py'), APP_PY);
  await mkdir(path.join(root, 'hf-cache'), { recursive: true });
  const env: NodeJS.ProcessEnv = {
    HF_HUB_CACHE: path.join(root, 'hf-cache'),
    HF_HOME: path.join(root, 'hf-home'),
    HOME: root,
    HF_HUB_OFFLINE: '1',
    LINEAGE_CACHE_DIR: path.join(root, 'lineage-cache'),
    LINEAGE_DB_URL: '',
    PGPASSWORD: '',
  };
  return { root, workspace, base, env };
}

async function hoverText(client: LspTestClient, uri: string, line: number, character: number): Promise<string> {
  const hover = await client.hover(uri, line, character);
  return (hover?.contents as { value?: string } | undefined)?.value ?? '';
}

/** Everything the server said to the user, to the output channel and on stderr. */
function everythingSaid(client: LspTestClient): string {
  return [...client.messages.map((m) => m.message), ...client.stderr].join('\n');
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('language server: organisation registry (PostgreSQL, lineage.registry.url)', function () {
  this.timeout(240_000);
  const clusterUrl = postgresTestUrl('language server organisation registry');
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let ws: Workspace;
  let appUri: string;

  before(async function () {
    if (!clusterUrl) return this.skip();
    ws = await buildWorkspace();
    appUri = fileUri(path.join(ws.workspace, 'app.py'));
    scratch = await createScratchDatabase(clusterUrl);
    const registry = await openPgRegistry(scratch.url, { writable: true });
    try {
      const side = await loadSide(ws.base);
      await closeSide(side);
      await registry.putMany([{ meta: entryMetaFor(side.fingerprint, { id: 'acme-org/synthetic-base' }), fingerprint: side.fingerprint }]);
    } finally {
      await registry.close();
    }
  });

  after(async () => {
    await scratch?.drop();
    if (ws) await rm(ws.root, { recursive: true, force: true });
  });

  it('gives a registry verdict from the PostgreSQL registry; a password in the setting is ignored with one warning and never shown', async () => {
    const withPassword = new URL(scratch!.url);
    withPassword.password = PASSWORD_IN_SETTING;
    const client = await LspTestClient.start({ workspaceFolder: ws.workspace, env: ws.env, settings: { registry: { url: withPassword.toString(), includeShipped: false } } });
    try {
      await client.open(appUri, 'python', APP_PY);
      await client.waitForAnalyzed(appUri, 1, 180_000);
      const text = await hoverText(client, appUri, TUNED_LINE, 50);
      assert.match(text, /verified: derived from acme-org\/synthetic-base \(p [=<≤] \d(?:\.\d)?e-\d+/, text);
      assert.match(text, /`acme-org\/synthetic-base`: derived, p [=<≤] \d(?:\.\d)?e-\d+(?: \(the test's floor\))? \(registry\)/);

      const info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
      const organisation = info.registries.find((r) => r.role === 'organisation');
      assert.deepEqual(info.registries.map((r) => r.role), ['user', 'organisation']);
      assert.equal(organisation?.entries, 1);
      assert.equal(organisation?.path, new URL(scratch!.url).toString(), 'listed by its URL without the password');

      // The editor's password (secret storage) arrives; the registry keeps answering.
      const before = client.analyzed.filter((a) => a.uri === appUri).length;
      await client.connection.sendNotification(RegistryPasswordNotification.method, { password: EDITOR_PASSWORD } satisfies RegistryPasswordParams);
      await client.waitFor('re-analysis with the new password', () => (client.analyzed.filter((a) => a.uri === appUri).length > before ? true : undefined), 120_000);
      assert.match(await hoverText(client, appUri, TUNED_LINE, 50), /verified: derived from acme-org\/synthetic-base/);

      const warnings = client.messages.filter((m) => m.kind === 'show' && /contains a password: it is ignored/.test(m.message));
      assert.equal(warnings.length, 1, JSON.stringify(client.messages));
      const said = everythingSaid(client);
      assert.ok(!said.includes(PASSWORD_IN_SETTING), 'the password of the setting is in no message or log');
      assert.ok(!said.includes(EDITOR_PASSWORD), 'the editor password is in no message or log');
    } finally {
      assert.equal(await client.stop(), 0);
    }
  });

  it('an unreachable registry: one clear message naming the host, never the password; analysis goes on', async () => {
    const port = await closedPort();
    const url = `postgres://lineage@127.0.0.1:${port}/lineage`;
    const client = await LspTestClient.start({ workspaceFolder: ws.workspace, env: ws.env, settings: { registry: { url, includeShipped: false } } });
    try {
      await client.connection.sendNotification(RegistryPasswordNotification.method, { password: EDITOR_PASSWORD } satisfies RegistryPasswordParams);
      await client.open(appUri, 'python', APP_PY);
      await client.waitForAnalyzed(appUri, 1, 180_000);
      // The analysis went on: the fine-tune is reported as unverified (no registry knows it), not lost.
      const codes = client.diagnosticsOf(appUri).filter((d) => d.range.start.line === TUNED_LINE).map((d) => String(d.code));
      assert.ok(codes.includes('LL001'), JSON.stringify(client.diagnosticsOf(appUri)));
      // Analyse again: the failure is not shown a second time.
      const before = client.analyzed.filter((a) => a.uri === appUri).length;
      await client.connection.sendRequest('workspace/executeCommand', { command: ServerCommands.reanalyze, arguments: [] });
      await client.waitFor('re-analysis', () => (client.analyzed.filter((a) => a.uri === appUri).length > before ? true : undefined), 120_000);

      const shown = client.messages.filter((m) => m.kind === 'show' && /organisation registry/.test(m.message));
      assert.equal(shown.length, 1, JSON.stringify(client.messages));
      assert.match(shown[0]!.message, new RegExp(`organisation registry postgres://lineage@127\\.0\\.0\\.1:${port}/lineage is unavailable: .*ECONNREFUSED`));
      assert.match(shown[0]!.message, /Analysis continues with the other registries/);
      const info = await client.connection.sendRequest<RegistryInfoResult>(RegistryInfoRequest.method);
      assert.match(info.registries.find((r) => r.role === 'organisation')?.error ?? '', /unavailable/);
      assert.ok(!everythingSaid(client).includes(EDITOR_PASSWORD), 'the password is in no message or log');
    } finally {
      assert.equal(await client.stop(), 0);
    }
  });

  it('bad credentials: one message naming the role and host, never the password', async () => {
    const url = new URL(scratch!.url);
    url.username = 'nobody_here';
    const client = await LspTestClient.start({ workspaceFolder: ws.workspace, env: ws.env, settings: { registry: { url: url.toString(), includeShipped: false } } });
    try {
      await client.connection.sendNotification(RegistryPasswordNotification.method, { password: EDITOR_PASSWORD } satisfies RegistryPasswordParams);
      await client.open(appUri, 'python', APP_PY);
      await client.waitForAnalyzed(appUri, 1, 180_000);
      const shown = client.messages.filter((m) => m.kind === 'show' && /organisation registry/.test(m.message));
      assert.equal(shown.length, 1, JSON.stringify(client.messages));
      assert.match(shown[0]!.message, /organisation registry postgres:\/\/nobody_here@127\.0\.0\.1:\d+\/lineage_t_\w+ is unavailable: PostgreSQL error 28000: role "nobody_here" does not exist/);
      assert.ok(!everythingSaid(client).includes(EDITOR_PASSWORD), 'the password is in no message or log');
    } finally {
      assert.equal(await client.stop(), 0);
    }
  });
});
