// The Compare view's pure parts without a browser: the verdict comes first, hostile model names are
// escaped, the CSP is strict, the chart has one bar per layer, and export writes the comparison.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { compareWebviewCsp, compareWebviewHtml, describeOdds, layerChartSvg, normProfileSvg, plainSummary, renderComparisonBody, standaloneReportHtml } from '../../client/src/webview/compareHtml';
import type { Comparison } from '../../server/src/protocol';
import { recordedComparison } from './recorded';
import { handleCompareViewMessage, parseCompareViewMessage, type CompareHostMessage, type ReportFile } from '../../client/src/webview/messages';

const assets = { cspSource: 'https://webview.test', nonce: 'bm9uY2U=', scriptUri: 'https://webview.test/compare.js', styleUri: 'https://webview.test/compare.css' };

describe('client compare view HTML', () => {
  it('puts the verdict and its reason before everything else', () => {
    const html = compareWebviewHtml(recordedComparison('tiny-gpt2-vs-medical'), assets);
    const main = html.slice(html.indexOf('<main'));
    assert.ok(main.indexOf('id="verdict"') < main.indexOf('id="reason"'));
    assert.ok(main.indexOf('id="reason"') < main.indexOf('id="evidence-table"'));
    assert.match(html, /<h1 id="verdict" class="verdict verdict-derived">Derived<\/h1>/);
  });

  it('allows only the nonce script and local styles', () => {
    assert.equal(compareWebviewCsp(assets), "default-src 'none'; img-src https://webview.test data:; style-src https://webview.test; font-src https://webview.test; script-src 'nonce-bm9uY2U=';");
    const html = compareWebviewHtml(recordedComparison('tiny-gpt2-vs-medical'), assets);
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    assert.ok(!/ style="/.test(html), 'inline style attributes would need unsafe-inline');
    assert.ok(!/https?:\/\/(?!webview\.test)/.test(html), 'no remote resource');
  });

  it('escapes hostile model names and evidence text', () => {
    const hostile = recordedComparison('tiny-gpt2-vs-medical');
    hostile.a.name = '<img src=x onerror=alert(1)>';
    hostile.evidence[0]!.detail = '</td><script>alert(2)</script>';
    const html = compareWebviewHtml(hostile, assets);
    assert.ok(!html.includes('<img src=x'));
    assert.ok(!html.includes('<script>alert(2)'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
  });

  it('draws one focusable bar per layer, strongest evidence highest', () => {
    const layers = recordedComparison('synthetic-llama-vs-finetuned').layers;
    const svg = layerChartSvg([...layers, { layerA: 4, layerB: 4, log10P: -0.3, z: 0.1, rows: 48 }], -12);
    assert.equal((svg.match(/class="bar /g) ?? []).length, layers.length + 1);
    assert.equal((svg.match(/tabindex="0"/g) ?? []).length, layers.length + 1);
    assert.equal((svg.match(/class="bar weak"/g) ?? []).length, 1);
  });

  it('exports a self-contained HTML report whose only style is allowed by hash', () => {
    const css = 'body { color: red; }';
    const html = standaloneReportHtml(recordedComparison('tiny-gpt2-vs-medical'), css);
    const hash = createHash('sha256').update(css).digest('base64');
    assert.ok(html.includes(`style-src 'sha256-${hash}'`));
    assert.ok(!html.includes('<script'));
    assert.ok(!html.includes('data-export'), 'no export buttons in an export');
  });
});

describe('client compare view messages', () => {
  it('accepts only well-formed messages from the webview', () => {
    assert.deepEqual(parseCompareViewMessage({ type: 'export', format: 'json' }), { type: 'export', format: 'json' });
    assert.equal(parseCompareViewMessage({ type: 'export', format: '../../etc/passwd' }), undefined);
    assert.equal(parseCompareViewMessage('export'), undefined);
    assert.equal(parseCompareViewMessage(null), undefined);
  });

  it('saves the comparison as JSON and reports where, or that the user cancelled', async () => {
    const comparison = recordedComparison('tiny-gpt2-vs-medical');
    const saved: ReportFile[] = [];
    const posted: CompareHostMessage[] = [];
    const effects = { saveReport: async (file: ReportFile) => (saved.push(file), '/tmp/report.json'), post: (m: CompareHostMessage) => void posted.push(m) };
    assert.equal(await handleCompareViewMessage({ type: 'export', format: 'json' }, comparison, '', effects), '/tmp/report.json');
    assert.deepEqual(JSON.parse(saved[0]!.content), comparison);
    assert.equal(saved[0]!.suggestedName, 'lineage-tiny-gpt2-vs-tiny-gpt2-medical.json');
    assert.deepEqual(posted, [{ type: 'exported', format: 'json', location: '/tmp/report.json' }]);
    await handleCompareViewMessage({ type: 'export', format: 'html' }, comparison, '', { ...effects, saveReport: async () => undefined });
    assert.deepEqual(posted[1], { type: 'exportCancelled' });
    await handleCompareViewMessage({ type: 'export', format: 'html' }, comparison, '', { ...effects, saveReport: async () => { throw new Error('disk full'); } });
    assert.deepEqual(posted[2], { type: 'exportFailed', message: 'disk full' });
  });
});

describe('client compare view: the plain-language summary', () => {
  const base = recordedComparison('tiny-gpt2-vs-medical');
  const named = { ...base, a: { ...base.a, name: 'sshleifer/tiny-gpt2' }, b: { ...base.b, name: 'acme/tiny-gpt2-medical' } };

  it('has one sentence per verdict, with odds only when weight tests ran and a direction only when known', () => {
    const summary = (patch: Partial<Comparison>): string => plainSummary({ ...named, ...patch });
    assert.equal(summary({ verdict: 'derived', lineageLog10P: -12.4, direction: { parent: 'a', reason: 'B moved away from the shared initialisation' } }), 'B (acme/tiny-gpt2-medical) is a fine-tune of A (sshleifer/tiny-gpt2): the odds that two independently trained models share this much structure are below one in 10^12.');
    assert.equal(summary({ verdict: 'derived', lineageLog10P: -12.4, direction: undefined }), 'A and B are related: one was trained from the other: the odds that two independently trained models share this much structure are below one in 10^12. Which one came first is not known.');
    assert.equal(summary({ verdict: 'identical' }), 'A and B are the same model: their weight files are byte-for-byte identical.');
    assert.match(summary({ verdict: 'same-weights', lineageLog10P: -4 }), /^A and B hold the same weights, stored in different files or formats: .* below one in 10,000\.$/);
    assert.match(summary({ verdict: 'quantized', lineageLog10P: undefined, direction: { parent: 'b', reason: 'fewer bits' } }), /^A \(sshleifer\/tiny-gpt2\) is a quantized copy of B \(acme\/tiny-gpt2-medical\)/);
    assert.match(summary({ verdict: 'merge', lineageLog10P: -30 }), /^One of A and B is a merge/);
    assert.match(summary({ verdict: 'same-family' }), /no trained weights: neither was trained from the other\.$/);
    assert.equal(summary({ verdict: 'unrelated', lineageLog10P: -0.1 }), 'A and B are unrelated: they share no trained weights.');
    assert.equal(summary({ verdict: 'inconclusive' }), 'The evidence does not decide whether A and B are related.');
  });

  it('prints odds in words people read: exact below a million, powers of ten beyond, p = 0 as too small', () => {
    assert.equal(describeOdds(-3.2), 'below one in 1,000');
    assert.equal(describeOdds(-40.9), 'below one in 10^40');
    assert.equal(describeOdds(null), 'too small to compute');
    assert.equal(describeOdds(-1), undefined);
  });

  it('leaves out sections without data, says "below the bar" beside a small p, and states no direction it does not know', () => {
    const html = renderComparisonBody({ ...named, verdict: 'unrelated', layers: [], normProfiles: { labels: [], a: [], b: [] }, tokenizer: undefined, direction: undefined, notes: [], alignment: undefined, evidence: [{ signal: 'norm gains', test: 'rank test', outcome: 'no-evidence', log10P: -6.6, detail: 'd' }] }, { exportButtons: false });
    assert.doesNotMatch(html, /id="layer-chart"|id="norm-chart"|id="tokenizer"|id="direction"|class="empty"/);
    assert.match(html, /below the bar \(p &lt; 1e-\d+ needed\)/);
    assert.doesNotMatch(html, /is the parent|came first/);
  });

  it('draws norm gains that differ in the fourth decimal as a flat line, not magnified noise', () => {
    const svg = normProfileSvg({ labels: ['l0', 'l1', 'l2'], a: [0.9997, 1.001, 1.0], b: [1.0, 0.9998, 1.0005] });
    const ys = [...svg.matchAll(/<circle[^>]* cy="([\d.]+)"/g)].map((m) => Number(m[1]));
    assert.ok(Math.max(...ys) - Math.min(...ys) < 5, `points within 5 px: ${ys.join(', ')}`);
  });
});
