// Issue 11's two workspaces in a real VS Code (code-server + the .vsix + headless chromium): the false
// cards and the re-upload raise warnings, the GGUF named by path is in the Models view, train.py shows
// no LL009 problem; screenshots of each in .test-artifacts/. Runs only with LINEAGE_E2E=1.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { installExtension, startCodeServer, type CodeServerOptions, type RunningCodeServer } from '../../scripts/e2e/codeServer';
import { ARTIFACTS_DIR, ensureAll, REPO_ROOT } from '../../scripts/e2e/setup';
import { buildTruthWorkspaces, truthServerEnv, type TruthWorkspaces } from '../lsp/truthWorkspaces';
import { launchChromium } from '../webview/browser';

const ENABLED = process.env['LINEAGE_E2E'] === '1';
const PORT = Number(process.env['LINEAGE_E2E_TRUTH_PORT'] ?? 18_441);
const VSIX = path.join(REPO_ROOT, 'lineage-lens.vsix');

/** Rows of the Problems panel, as text. */
async function problemRows(page: Page): Promise<string[]> {
  return page.locator('.markers-panel .monaco-list-row').allTextContents();
}

async function openFolder(page: Page, server: RunningCodeServer, folder: string, file: string): Promise<void> {
  await page.goto(`${server.url}/?folder=${encodeURIComponent(folder)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).first().click();
  await page.locator('.statusbar-item', { hasText: 'Lineage' }).first().waitFor({ timeout: 60_000 });
}

describe('e2e: issue 11 workspaces in code-server', function () {
  this.timeout(15 * 60_000);
  let workspaces: TruthWorkspaces;
  let server: RunningCodeServer;
  let browser: Browser;
  let page: Page;

  before(async function () {
    if (!ENABLED) {
      console.log('    (skipped: set LINEAGE_E2E=1 or run `npm run test:e2e`)');
      this.skip();
    }
    ensureAll();
    if (!existsSync(VSIX)) execFileSync('npm', ['run', 'package', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
    workspaces = await buildTruthWorkspaces();
    const stateDir = path.join(ARTIFACTS_DIR, 'code-server-truth-state');
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const options: CodeServerOptions = { stateDir, port: PORT, env: truthServerEnv(workspaces) };
    assert.match(installExtension(options, VSIX), /successfully installed/);
    server = await startCodeServer(options, workspaces.localModels);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (workspaces) rmSync(workspaces.root, { recursive: true, force: true });
  });

  it('local models: the false cards and the renamed copy raise warnings, the GGUF is in the Models view', async () => {
    await openFolder(page, server, workspaces.localModels, 'app.py');
    await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 120_000 });
    await page.locator('#status\\.problems').click();
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'LL010' }).first().waitFor({ timeout: 120_000 });
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'LL002' }).first().waitFor({ timeout: 60_000 });
    const rows = await problemRows(page);
    assert.ok(rows.some((r) => /bigcorp\/sentinel-1b has byte-identical weights/.test(r)), rows.join('\n'));
    assert.ok(rows.some((r) => /declares base openai-community\/gpt2/.test(r)), rows.join('\n'));
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-issue11-local-models-problems.png') });
    // The Models view lives in the Explorer; the Problems panel is closed again to give it room.
    await page.locator('#status\\.problems').click();
    const models = page.locator('.pane-header', { hasText: /^\s*Models/i }).first();
    await models.waitFor({ timeout: 30_000 });
    if ((await models.getAttribute('aria-expanded')) !== 'true') await models.click();
    await page.locator('.monaco-list-row', { hasText: 'stories260K.gguf' }).first().waitFor({ timeout: 60_000 });
    // Never green for a refuted claim or a copy: the Models view rows of those two show no check mark.
    for (const id of ['acme/tiny-gpt2-medical', 'bigcorp/sentinel-1b']) {
      const row = page.locator('.monaco-list-row', { hasText: id }).first();
      await row.waitFor();
      assert.equal(await row.locator('.codicon-pass-filled').count(), 0, id);
    }
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-issue11-local-models.png') });
  });

  it('training repository: the typosquat is flagged, "not downloaded" is no problem', async () => {
    await openFolder(page, server, workspaces.training, 'train.py');
    await page.locator('#status\\.problems').click();
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'LL008' }).first().waitFor({ timeout: 120_000 });
    const rows = await problemRows(page);
    assert.ok(rows.some((r) => /meta-llama\/Llama-3\.1-8B-lnstruct looks like/.test(r)), rows.join('\n'));
    assert.equal(rows.filter((r) => /LL009/.test(r)).length, 0, rows.join('\n'));
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-issue11-training.png') });
  });
});
