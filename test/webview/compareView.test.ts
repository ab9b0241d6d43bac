// The Compare view in a real browser engine (headless chromium), served from a webview-like origin with
// the production CSP: inline scripts without the nonce are blocked, the chart and evidence table render
// from recorded comparisons, the export buttons (mouse and keyboard) reach the host and export works.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { Comparison } from '../../server/src/core/compare/types';
import { compareWebviewHtml } from '../../client/src/webview/compareHtml';
import { handleCompareViewMessage, type CompareHostMessage, type ReportFile } from '../../client/src/webview/messages';
import { recordedComparison } from '../client/recorded';
import { chromiumAvailable, launchChromium, waitForPageCondition } from './browser';

const ROOT = path.resolve(__dirname, '..', '..');
const MEDIA = path.join(ROOT, 'media');
const ARTIFACTS = path.join(ROOT, '.test-artifacts');
const ORIGIN = 'https://webview.test';
const NONCE = 'dGVzdC1ub25jZS0xMjM0NQ==';

// Stands in for the API VS Code injects into webviews; a string, not a function, because tsx's
// keepNames would add __name() calls the page does not have (vscode-testing.md §4).
const VSCODE_API_STUB = `window.__posted = []; window.acquireVsCodeApi = () => ({ postMessage: (m) => window.__posted.push(m), getState: () => undefined, setState: () => undefined });`;

interface LoadedView {
  page: Page;
  cspViolations: string[];
}

async function openCompareView(browser: Browser, comparison: Comparison, extraBodyHtml = ''): Promise<LoadedView> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const html = compareWebviewHtml(comparison, { cspSource: ORIGIN, nonce: NONCE, scriptUri: `${ORIGIN}/compare.js`, styleUri: `${ORIGIN}/compare.css` }).replace('</body>', `${extraBodyHtml}</body>`);
  await page.route(`${ORIGIN}/**`, async (route) => {
    const name = new URL(route.request().url()).pathname.slice(1);
    if (name === 'index.html') return route.fulfill({ contentType: 'text/html', body: html });
    if (name === 'compare.js' || name === 'compare.css') return route.fulfill({ contentType: name.endsWith('.js') ? 'text/javascript' : 'text/css', body: readFileSync(path.join(MEDIA, name)) });
    return route.fulfill({ status: 404, body: '' });
  });
  await page.addInitScript({ content: `${VSCODE_API_STUB} window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective));` });
  await page.goto(`${ORIGIN}/index.html`);
  await waitForPageCondition(page, 'window.__posted.some((m) => m.type === "ready")');
  const cspViolations = await page.evaluate('window.__csp') as string[];
  return { page, cspViolations };
}

describe('webview: Compare view in headless chromium', function () {
  let browser: Browser;

  before(async function () {
    if (!chromiumAvailable()) {
      console.log('    (skipped: /usr/bin/chromium not found; apt-get install -y chromium, or set LINEAGE_CHROMIUM)');
      this.skip();
    }
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
  });

  it('runs the nonce script and blocks an inline script without the nonce', async () => {
    const { page, cspViolations } = await openCompareView(browser, recordedComparison('tiny-gpt2-vs-medical'), '<script>window.__inlineRan = true;</script>');
    assert.equal(await page.evaluate('window.__inlineRan'), undefined);
    assert.ok(cspViolations.some((d) => d.startsWith('script-src')), `expected a script-src violation, got ${JSON.stringify(cspViolations)}`);
    // The stylesheet came through the CSP: the verdict is coloured by compare.css, not the UA default.
    const color = await page.evaluate('getComputedStyle(document.getElementById("verdict")).color');
    assert.notEqual(color, 'rgb(0, 0, 0)');
    await page.close();
  });

  it('renders the verdict, the evidence table and the per-layer chart from recorded comparisons', async () => {
    const gpt2 = recordedComparison('tiny-gpt2-vs-medical');
    const small = await openCompareView(browser, gpt2);
    assert.equal(await small.page.locator('#verdict').textContent(), 'Derived');
    assert.ok(((await small.page.locator('#reason').textContent()) ?? '').startsWith(gpt2.reason), 'the reason of the engine opens "How we know"');
    assert.equal(await small.page.locator('#evidence-table tbody tr').count(), gpt2.evidence.length);
    assert.match((await small.page.locator('#evidence-table tbody tr.outcome-lineage').textContent()) ?? '', /anchor-token/);
    assert.equal(await small.page.locator('#layer-chart').count(), 0, 'no empty chart section');
    assert.equal(await small.page.locator('#norm-chart-svg circle').count(), gpt2.normProfiles.labels.length * 2);
    await small.page.close();

    const llama = recordedComparison('synthetic-llama-vs-finetuned');
    const { page } = await openCompareView(browser, llama);
    const bars = page.locator('#layer-chart-svg .bar rect');
    assert.equal(await bars.count(), llama.layers.length);
    for (let i = 0; i < llama.layers.length; i++) {
      const box = await bars.nth(i).boundingBox();
      assert.ok(box && box.height > 20 && box.width > 10, `bar ${i} is visible`);
    }
    // Keyboard: focusing a bar announces its numbers; the right arrow moves to the next bar.
    await page.locator('#layer-chart-svg .bar').first().focus();
    assert.match((await page.locator('#status').textContent()) ?? '', /^layer 0: p < 1e-2251/);
    await page.keyboard.press('ArrowRight');
    assert.match((await page.locator('#status').textContent()) ?? '', /^layer 1:/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'webview-compare-llama.png'), fullPage: true });
    await page.close();
  });

  it('states the verdict in one plain sentence first, hides charts without data, and reads well in both themes', async () => {
    const gpt2 = recordedComparison('tiny-gpt2-vs-medical');
    const sentences: Record<string, RegExp> = {
      derived: /^A and B are related: one was trained from the other: the odds that two independently trained models share this much structure are below one in 10\^\d+\. Which one came first is not known\.$/,
      identical: /^A and B are the same model: their weight files are byte-for-byte identical\.$/,
      unrelated: /^A and B are unrelated: they share no trained weights\.$/,
    };
    const variants: Record<string, Comparison> = {
      derived: gpt2,
      identical: { ...gpt2, verdict: 'identical', layers: [], normProfiles: { labels: ['ln_f'], a: [1], b: [1] } },
      unrelated: { ...gpt2, verdict: 'unrelated', lineageLog10P: -0.2, layers: [], normProfiles: { labels: [], a: [], b: [] }, tokenizer: undefined },
    };
    for (const [verdict, comparison] of Object.entries(variants)) {
      const { page } = await openCompareView(browser, comparison);
      // The first text after the verdict heading is the sentence; the statistics follow under "How we know".
      const order = await page.evaluate('[...document.querySelectorAll("#verdict, #summary, #how-we-know-title")].map((e) => e.id)');
      assert.deepEqual(order, ['verdict', 'summary', 'how-we-know-title']);
      assert.match((await page.locator('#summary').textContent()) ?? '', sentences[verdict]!);
      // Every chart section on the page has something drawn in it.
      for (const section of await page.locator('#layer-chart, #norm-chart').all()) assert.ok((await section.locator('svg *').count()) > 0);
      if (verdict === 'identical') assert.equal(await page.locator('#norm-chart').count(), 0, 'identical files get no norm chart');
      if (verdict === 'unrelated') assert.equal(await page.locator('#norm-chart, #layer-chart, #tokenizer').count(), 0);
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme });
        if (verdict === 'derived') await page.screenshot({ path: path.join(ARTIFACTS, `webview-compare-${scheme}.png`), fullPage: true });
      }
      await page.close();
    }
  });

  it('exports JSON and a self-contained HTML report from the buttons (mouse and keyboard)', async () => {
    const comparison = recordedComparison('tiny-gpt2-vs-medical');
    const { page } = await openCompareView(browser, comparison);
    await page.getByRole('button', { name: 'Export JSON' }).click();
    await page.getByRole('button', { name: 'Export HTML' }).focus();
    await page.keyboard.press('Enter');
    const posted = (await page.evaluate('window.__posted')) as unknown[];
    const exports = posted.filter((m) => (m as { type: string }).type === 'export');
    assert.deepEqual(exports, [{ type: 'export', format: 'json' }, { type: 'export', format: 'html' }]);

    // The host side of the round trip, with the file dialog replaced by a temp folder.
    const folder = mkdtempSync(path.join(tmpdir(), 'lineage-export-'));
    const css = readFileSync(path.join(MEDIA, 'compare.css'), 'utf8');
    const replies: CompareHostMessage[] = [];
    const effects = {
      saveReport: async (file: ReportFile) => {
        const target = path.join(folder, file.suggestedName);
        writeFileSync(target, file.content);
        return target;
      },
      post: (reply: CompareHostMessage) => void replies.push(reply),
    };
    const written = [];
    for (const message of exports) written.push(await handleCompareViewMessage(message, comparison, css, effects));
    assert.deepEqual(JSON.parse(readFileSync(written[0]!, 'utf8')), comparison);

    // The reply reaches the page's live region.
    await page.evaluate(`window.postMessage(${JSON.stringify(replies[1])}, '*')`);
    await waitForPageCondition(page, 'document.getElementById("status").textContent.startsWith("Saved HTML report")');
    await page.close();

    // The exported HTML opens on its own: styled (its CSP allows the inlined sheet by hash), no script, no request.
    const report = await browser.newPage();
    const requests: string[] = [];
    const violations: string[] = [];
    report.on('request', (r) => { if (!r.url().startsWith('file:')) requests.push(r.url()); });
    report.on('console', (m) => { if (/Content Security Policy/.test(m.text())) violations.push(m.text()); });
    await report.goto(pathToFileURL(written[1]!).href);
    assert.equal(await report.locator('#verdict').textContent(), 'Derived');
    assert.equal(await report.locator('#evidence-table tbody tr').count(), comparison.evidence.length);
    assert.equal(await report.locator('script').count(), 0);
    assert.notEqual(await report.evaluate('getComputedStyle(document.getElementById("verdict")).color'), 'rgb(0, 0, 0)');
    assert.deepEqual(requests, []);
    assert.deepEqual(violations, []);
    await report.close();
  });
});
