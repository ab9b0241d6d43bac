// End to end in a real VS Code: code-server (npm, Node 24) with the built .vsix installed, driven by
// headless chromium; then the mocha suite inside its extension host. Runs only with LINEAGE_E2E=1.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import type { Browser, Frame, Page } from 'playwright-core';
import { installExtension, startCodeServer, type CodeServerOptions, type RunningCodeServer } from '../../scripts/e2e/codeServer';
import { ARTIFACTS_DIR, ensureAll, REPO_ROOT } from '../../scripts/e2e/setup';
import { buildFixtureWorkspace, serverEnv, type FixtureWorkspace } from '../lsp/fixtureWorkspace';
import { ZOO_DIR } from '../support/zoo';
import { launchChromium } from '../webview/browser';
import type { IntegrationResult } from './integration';

const ENABLED = process.env['LINEAGE_E2E'] === '1';
const PORT = Number(process.env['LINEAGE_E2E_PORT'] ?? 18_431);
const VSIX = path.join(REPO_ROOT, 'lineage-lens.vsix');
const ITEST_DIR = path.join(ARTIFACTS_DIR, 'itest');
const SCREENSHOT_FOR_README = path.join(REPO_ROOT, 'docs', 'compare-view.png');

async function bundleIntegrationTests(): Promise<void> {
  rmSync(ITEST_DIR, { recursive: true, force: true });
  await build({
    entryPoints: { index: 'test/e2e/integration/index.ts', 'extension.itest': 'test/e2e/integration/extension.itest.ts' },
    outdir: ITEST_DIR,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // vscode is the host's; mocha resolves from the repository's node_modules above .test-artifacts/.
    external: ['vscode', 'mocha'],
    logLevel: 'warning',
  });
}

async function frameWith(page: Page, selector: string, timeoutMs: number): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const frame of page.frames()) {
      if (await frame.$(selector).catch(() => null)) return frame;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no frame with ${selector} within ${timeoutMs} ms`);
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

describe('e2e: Lineage Lens in code-server', function () {
  this.timeout(15 * 60_000);
  let fixture: FixtureWorkspace;
  let server: RunningCodeServer;
  let browser: Browser;
  let page: Page;
  let options: CodeServerOptions;

  before(async function () {
    if (!ENABLED) {
      console.log('    (skipped: set LINEAGE_E2E=1 or run `npm run test:e2e`; it installs code-server and chromium when missing)');
      this.skip();
    }
    ensureAll();
    execFileSync('npm', ['run', 'package', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
    await bundleIntegrationTests();
    fixture = await buildFixtureWorkspace();
    const stateDir = path.join(ARTIFACTS_DIR, 'code-server-state');
    rmSync(stateDir, { recursive: true, force: true });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    options = {
      stateDir,
      port: PORT,
      env: {
        ...serverEnv(fixture),
        LINEAGE_ZOO: ZOO_DIR,
        LINEAGE_ACTIVATION_REPORT: path.join(ARTIFACTS_DIR, 'activation.json'),
        LINEAGE_ITEST_RESULT: path.join(ARTIFACTS_DIR, 'itest-result.json'),
      },
    };
    rmSync(options.env!['LINEAGE_ACTIVATION_REPORT']!, { force: true });
    rmSync(options.env!['LINEAGE_ITEST_RESULT']!, { force: true });
    assert.match(installExtension(options, VSIX), /successfully installed/);
    server = await startCodeServer(options, fixture.workspace);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (fixture) rmSync(fixture.root, { recursive: true, force: true });
  });

  it('activates the installed .vsix in the fixture workspace (status bar item, activation time)', async () => {
    await page.goto(`${server.url}/?folder=${encodeURIComponent(fixture.workspace)}`);
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'app.py' }).first().click();
    await page.locator('.statusbar-item', { hasText: 'Lineage' }).first().waitFor({ timeout: 60_000 });
    const report = options.env!['LINEAGE_ACTIVATION_REPORT']!;
    const activation = JSON.parse(readFileSync(report, 'utf8')) as { activationMs: number; vscode: string };
    console.log(`      activation ${activation.activationMs.toFixed(1)} ms in VS Code ${activation.vscode}`);
    assert.ok(activation.activationMs < 1_000);
  });

  it('shows the server\'s diagnostics in the Problems panel', async () => {
    await page.waitForSelector('.monaco-editor .squiggly-warning', { timeout: 90_000 });
    await page.locator('#status\\.problems').click();
    const row = page.locator('.markers-panel .monaco-list-row', { hasText: 'meta-llama/Llama-3.1-8B' }).first();
    await row.waitFor({ timeout: 60_000 });
    assert.match((await row.textContent()) ?? '', /LL008/);
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'LL003' }).first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-problems.png') });
  });

  it('shows the lineage verdict in the hover on a from_pretrained reference', async () => {
    const target = page.locator('.monaco-editor .view-line > span > span', { hasText: 'acme/tiny-gpt2-medical' }).first();
    const deadline = Date.now() + 120_000;
    let text = '';
    while (Date.now() < deadline) {
      // Mouse hover is unreliable headless; the keyboard "Show Hover" on the reference is what a user can do too.
      await target.click();
      await page.keyboard.press('Control+K');
      await page.keyboard.press('Control+I');
      const hover = page.locator('.monaco-hover', { hasText: 'Lineage' }).first();
      await hover.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
      text = (await hover.textContent().catch(() => '')) ?? '';
      if (/verified:/.test(text)) break;
      await page.keyboard.press('Escape');
      await page.waitForTimeout(2_000);
    }
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-hover.png') });
    // A renamed re-upload: the shipped reference database knows the original, the cache holds its base.
    assert.match(text, /verified: identical to camara-mohamed23\/tiny-gpt2-medical/);
    assert.match(text, /sshleifer\/tiny-gpt2.*derived/);
    await page.keyboard.press('Escape');
  });

  it('opens the Compare view from "Lineage: Compare with…" with the derived verdict of a zoo pair', async () => {
    // The cursor on the base model's reference makes it the first side.
    await page.locator('.monaco-editor .view-line > span > span', { hasText: 'sshleifer/tiny-gpt2' }).first().click();
    await runCommand(page, 'Lineage: Compare with…');
    const input = page.locator('.quick-input-widget input');
    const title = page.locator('.quick-input-widget .quick-input-title');
    await input.waitFor();
    await page.waitForTimeout(500);
    if (/first model/.test((await title.textContent()) ?? '')) {
      await input.fill(path.join(ZOO_DIR, 'tiny-gpt2'));
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget .quick-input-title', { hasText: 'with…' }).waitFor();
    }
    await input.fill(path.join(ZOO_DIR, 'tiny-gpt2-medical'));
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'use this id or path' }).first().waitFor();
    await page.keyboard.press('Enter');
    const frame = await frameWith(page, '#verdict', 120_000);
    assert.equal(await frame.locator('#verdict').textContent(), 'Derived');
    assert.ok((await frame.locator('#evidence-table tbody tr').count()) >= 3);
    // Issue 11: the view opens in the active editor group (a side column clipped its tables), as a tab beside the code's.
    const groups = page.locator('.editor-group-container');
    assert.equal(await groups.count(), 1, 'no second editor group was opened');
    assert.equal(await groups.first().locator('.tab', { hasText: 'Lineage:' }).count(), 1);
    assert.equal(await groups.first().locator('.tab', { hasText: 'app.py' }).count(), 1);
    await page.waitForTimeout(500);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'e2e-compare.png') });
    // The README screenshot: the editor area with the Compare view in the code's group.
    const editorArea = await page.locator('.part.editor').boundingBox();
    if (editorArea) {
      mkdirSync(path.dirname(SCREENSHOT_FOR_README), { recursive: true });
      await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'compare-view.png'), clip: editorArea });
      if (statSync(path.join(ARTIFACTS_DIR, 'compare-view.png')).size < 300_000) copyFileSync(path.join(ARTIFACTS_DIR, 'compare-view.png'), SCREENSHOT_FOR_README);
    }
  });

  it('passes the integration suite inside the extension host (payload route)', async () => {
    await page.close();
    const remote = (p: string): string => `vscode-remote://127.0.0.1:${PORT}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(REPO_ROOT)],
      ['extensionTestsPath', remote(path.join(ITEST_DIR, 'index.js'))],
      ['extensionEnvironment', JSON.stringify({ LINEAGE_ITEST_RESULT: options.env!['LINEAGE_ITEST_RESULT'], LINEAGE_ZOO: ZOO_DIR })],
    ];
    const testPage = await browser.newPage();
    await testPage.goto(`${server.url}/?folder=${encodeURIComponent(fixture.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
    const resultFile = options.env!['LINEAGE_ITEST_RESULT']!;
    const deadline = Date.now() + 5 * 60_000;
    while (!existsSync(resultFile) && Date.now() < deadline) await testPage.waitForTimeout(500);
    assert.ok(existsSync(resultFile), 'the extension host wrote its test results');
    const result = JSON.parse(readFileSync(resultFile, 'utf8')) as IntegrationResult;
    for (const test of result.tests) console.log(`      [extension host] ${test.state === 'passed' ? '✔' : '✘'} ${test.title}${test.error ? `\n${test.error}` : ''}`);
    await testPage.close();
    assert.equal(result.failures, 0);
    assert.ok(result.passes >= 10, `${result.passes} integration tests passed`);
  });
});
