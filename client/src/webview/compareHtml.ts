// HTML of the Compare view from a Comparison: the verdict and one plain-language sentence first, then
// "How we know" (evidence, charts that have data, tokenizer, declared vs verified, direction when known).
// Pure (no vscode import).
import { createHash } from 'node:crypto';
import type { Comparison, EvidenceRow, LayerEvidence, SideSummary, TokenizerComparison } from '../../../server/src/protocol';
import { formatBytes, formatLog10P } from '../../../server/src/protocol';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Numbers written into SVG: one decimal is plenty on screen and keeps exports diff-friendly. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

const VERDICT_TITLES: Readonly<Record<Comparison['verdict'], string>> = {
  identical: 'Identical',
  'same-weights': 'Same weights',
  quantized: 'Quantized',
  derived: 'Derived',
  merge: 'Merge',
  'same-family': 'Same family',
  unrelated: 'Unrelated',
  inconclusive: 'Inconclusive',
};

/** -log10 p of a layer; JSON turns -Infinity (p = 0) into null, which counts as the strongest evidence. */
function strength(log10P: number | null | undefined): number {
  if (log10P === null || log10P === undefined || !Number.isFinite(log10P)) return Number.POSITIVE_INFINITY;
  return Math.max(0, -log10P);
}

// ---------------------------------------------------------------------------------------------
// The plain-language summary: what a person who is not a statistician needs to read first.

/** "below one in 10^12": the chance of this much shared structure between independently trained models. */
export function describeOdds(log10P: number | null | undefined): string | undefined {
  if (log10P === undefined) return undefined;
  // JSON turns p = 0 (-Infinity) into null: smaller than any number we can print.
  if (log10P === null || !Number.isFinite(log10P)) return 'too small to compute';
  if (log10P > -2) return undefined;
  const exponent = Math.floor(-log10P);
  return exponent <= 6 ? `below one in ${(10 ** exponent).toLocaleString('en-US')}` : `below one in 10^${exponent}`;
}

function childAndParent(c: Comparison): { child: string; parent: string } | undefined {
  if (!c.direction) return undefined;
  return c.direction.parent === 'a' ? { parent: `A (${c.a.name})`, child: `B (${c.b.name})` } : { parent: `B (${c.b.name})`, child: `A (${c.a.name})` };
}

/**
 * One sentence per verdict, in words: which is which only when the direction is known, and the odds
 * under the stated null only when weight tests ran.
 */
export function plainSummary(c: Comparison): string {
  const odds = describeOdds(c.lineageLog10P);
  const because = odds ? `: the odds that two independently trained models share this much structure are ${odds}` : '';
  const known = childAndParent(c);
  switch (c.verdict) {
    case 'identical':
      return 'A and B are the same model: their weight files are byte-for-byte identical.';
    case 'same-weights':
      return `A and B hold the same weights, stored in different files or formats${because}.`;
    case 'quantized':
      return known ? `${known.child} is a quantized copy of ${known.parent}: the same weights at lower precision${because}.` : `One of A and B is a quantized copy of the other: the same weights at lower precision${because}. Which one is the original is not known.`;
    case 'derived':
      return known ? `${known.child} is a fine-tune of ${known.parent}${because}.` : `A and B are related: one was trained from the other${because}. Which one came first is not known.`;
    case 'merge':
      return `One of A and B is a merge that contains the other's weights${because}.`;
    case 'same-family':
      return 'A and B share an architecture or a tokenizer, but no trained weights: neither was trained from the other.';
    case 'unrelated':
      return 'A and B are unrelated: they share no trained weights.';
    case 'inconclusive':
      return 'The evidence does not decide whether A and B are related.';
  }
}

// ---------------------------------------------------------------------------------------------
// Per-layer chart: bars of -log10 p on a log axis (values span 1 to 10^4 and more), threshold line.

const CHART = { height: 220, top: 16, bottom: 40, left: 52, right: 12, barWidth: 28, gap: 10 } as const;

export function layerChartSvg(layers: readonly LayerEvidence[], thresholdLog10P: number): string {
  const threshold = -thresholdLog10P;
  const finite = layers.map((l) => strength(l.log10P)).filter(Number.isFinite);
  const maxValue = Math.max(threshold * 2, ...finite, 10);
  const axis = (v: number): number => Math.log10(1 + Math.min(v, maxValue));
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  const y = (v: number): number => CHART.top + plotHeight - (axis(v) / axis(maxValue)) * plotHeight;
  const width = CHART.left + CHART.right + Math.max(layers.length, 4) * (CHART.barWidth + CHART.gap);
  const parts: string[] = [];
  parts.push(`<svg class="chart" id="layer-chart-svg" viewBox="0 0 ${width} ${CHART.height}" width="${width}" height="${CHART.height}" role="group" aria-labelledby="layer-chart-title">`);
  for (let tick = 1; tick <= maxValue; tick *= 10) {
    parts.push(`<line class="grid" x1="${CHART.left}" x2="${width - CHART.right}" y1="${n(y(tick))}" y2="${n(y(tick))}"/>`);
    parts.push(`<text class="tick" x="${CHART.left - 6}" y="${n(y(tick) + 4)}" text-anchor="end">${tick >= 1e4 ? `1e${Math.round(Math.log10(tick))}` : tick}</text>`);
  }
  parts.push(`<line class="threshold" x1="${CHART.left}" x2="${width - CHART.right}" y1="${n(y(threshold))}" y2="${n(y(threshold))}"><title>lineage threshold: p &lt; 1e${thresholdLog10P}</title></line>`);
  layers.forEach((layer, index) => {
    const value = strength(layer.log10P);
    const x = CHART.left + CHART.gap / 2 + index * (CHART.barWidth + CHART.gap);
    const top = y(value);
    const p = Number.isFinite(value) ? formatLog10P(layer.log10P) ?? '' : 'p = 0';
    const label = `layer ${layer.layerA}${layer.layerB !== layer.layerA ? ` ↔ ${layer.layerB}` : ''}: ${p}, z ${layer.z.toFixed(1)}, ${layer.rows} rows`;
    const kind = value >= threshold ? 'lineage' : 'weak';
    parts.push(`<g class="bar ${kind}" tabindex="0" role="img" aria-label="${escapeHtml(label)}" data-detail="${escapeHtml(label)}">`);
    parts.push(`<rect x="${n(x)}" y="${n(top)}" width="${CHART.barWidth}" height="${n(CHART.top + plotHeight - top)}"/><title>${escapeHtml(label)}</title>`);
    parts.push(`<text class="tick" x="${n(x + CHART.barWidth / 2)}" y="${CHART.height - CHART.bottom + 14}" text-anchor="middle">${layer.layerA}</text></g>`);
  });
  parts.push(`<text class="axis-label" x="${n((width + CHART.left) / 2)}" y="${CHART.height - 6}" text-anchor="middle">layer</text>`);
  parts.push(`<text class="axis-label" transform="translate(12 ${n(CHART.top + plotHeight / 2)}) rotate(-90)" text-anchor="middle">−log10 p</text>`);
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Norm-gain overlay: both models' mean gain per norm vector on one axis.

export function normProfileSvg(profiles: Comparison['normProfiles']): string {
  const count = Math.min(profiles.labels.length, profiles.a.length, profiles.b.length);
  const values = [...profiles.a.slice(0, count), ...profiles.b.slice(0, count)].filter(Number.isFinite);
  const low = Math.min(...values);
  const high = Math.max(...values);
  // At least 20% of the values' size on the axis: a span of 0.9997 to 1.001 is noise, drawn flat, not magnified.
  const minimumSpan = Math.max(Math.abs(high), Math.abs(low), 1e-6) * 0.2;
  const span = Math.max(high - low, minimumSpan);
  const middle = (high + low) / 2;
  const pad = span * 0.1;
  const [min, max] = [middle - span / 2 - pad, middle + span / 2 + pad];
  const step = 36;
  const box = { height: 200, top: 12, bottom: 28, left: 60, right: 16 };
  const width = box.left + box.right + Math.max(count - 1, 1) * step;
  const plotHeight = box.height - box.top - box.bottom;
  const x = (i: number): number => box.left + i * step;
  const y = (v: number): number => box.top + plotHeight - ((v - min) / (max - min)) * plotHeight;
  const parts: string[] = [`<svg class="chart" id="norm-chart-svg" viewBox="0 0 ${width} ${box.height}" width="${width}" height="${box.height}" role="group" aria-labelledby="norm-chart-title">`];
  for (const v of [min + pad, (min + max) / 2, max - pad]) {
    parts.push(`<line class="grid" x1="${box.left}" x2="${width - box.right}" y1="${n(y(v))}" y2="${n(y(v))}"/><text class="tick" x="${box.left - 6}" y="${n(y(v) + 4)}" text-anchor="end">${v.toPrecision(4)}</text>`);
  }
  for (const [series, data] of [['a', profiles.a], ['b', profiles.b]] as const) {
    const points = data.slice(0, count).map((v, i) => `${n(x(i))},${n(y(v))}`).join(' ');
    parts.push(`<polyline class="series series-${series}" points="${points}"/>`);
    data.slice(0, count).forEach((v, i) => {
      const label = `${series.toUpperCase()} ${profiles.labels[i] ?? i}: ${v.toPrecision(6)}`;
      parts.push(`<circle class="point series-${series}" cx="${n(x(i))}" cy="${n(y(v))}" r="3"><title>${escapeHtml(label)}</title></circle>`);
    });
  }
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------------
// Sections.

function sideCells(side: SideSummary): string[] {
  return [
    escapeHtml(side.name),
    escapeHtml(side.format),
    side.parameterCount.toLocaleString('en-US'),
    escapeHtml([side.architecture, side.hiddenSize ? `${side.hiddenSize}d` : undefined, side.layers ? `${side.layers} layers` : undefined].filter(Boolean).join(' · ') || '—'),
    side.declaredBases.length > 0 ? side.declaredBases.map((b) => `<code>${escapeHtml(b)}</code>`).join(', ') : 'none',
    formatBytes(side.bytesRead),
  ];
}

function modelsTable(c: Comparison): string {
  const headers = ['Model', 'Format', 'Parameters', 'Architecture', 'Declared base', 'Bytes read'];
  const rows = [['A', sideCells(c.a)], ['B', sideCells(c.b)]] as const;
  return `<table class="models"><caption>Models compared</caption><thead><tr><th scope="col"></th>${headers.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map(([label, cells]) => `<tr><th scope="row">${label}</th>${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const OUTCOME_LABELS: Readonly<Record<EvidenceRow['outcome'], string>> = { lineage: 'shared weights', 'no-evidence': 'not enough', 'not-run': 'not run', info: 'info' };

/** "not enough" beside a small p reads as a contradiction: say what the bar is. */
function outcomeLabel(row: EvidenceRow, thresholdLog10P: number): string {
  if (row.outcome === 'no-evidence' && row.log10P !== undefined && row.log10P < -2) return `below the bar (p &lt; 1e${thresholdLog10P} needed)`;
  return OUTCOME_LABELS[row.outcome];
}

function evidenceTable(rows: readonly EvidenceRow[], thresholdLog10P: number): string {
  const body = rows
    .map((row) => {
      const p = formatLog10P(row.log10P) ?? '—';
      return `<tr class="outcome-${row.outcome}"><td>${escapeHtml(row.signal)}</td><td>${escapeHtml(row.test)}</td><td><span class="badge outcome-${row.outcome}">${outcomeLabel(row, thresholdLog10P)}</span></td><td class="num">${escapeHtml(p)}</td><td>${escapeHtml(row.detail)}</td></tr>`;
    })
    .join('');
  return `<table class="evidence" id="evidence-table"><caption>Evidence, one row per test with its null hypothesis</caption><thead><tr><th scope="col">Signal</th><th scope="col">Test and null</th><th scope="col">Outcome</th><th scope="col">p</th><th scope="col">Detail</th></tr></thead><tbody>${body}</tbody></table>`;
}

/** A chart without data is left out (the evidence table says which tests did not run). */
function layerSection(c: Comparison): string {
  const title = '<h3 id="layer-chart-title">Lineage evidence per layer (−log10 p, log axis)</h3>';
  if (c.layers.length === 0) return '';
  return `<section id="layer-chart" aria-labelledby="layer-chart-title">${title}<figure>${layerChartSvg(c.layers, c.thresholdLog10P)}<figcaption>Bars above the dashed line pass the lineage threshold p &lt; 1e${c.thresholdLog10P}. Focus a bar for its numbers.</figcaption></figure></section>`;
}

function normSection(c: Comparison): string {
  const title = '<h3 id="norm-chart-title">Norm-gain profiles</h3>';
  // Identical files need no profile; a pair without shared norm vectors has nothing to draw.
  if (c.verdict === 'identical' || c.normProfiles.labels.length === 0) return '';
  const legend = `<ul class="legend"><li><span class="swatch series-a"></span>A ${escapeHtml(c.a.name)}</li><li><span class="swatch series-b"></span>B ${escapeHtml(c.b.name)}</li></ul>`;
  return `<section id="norm-chart" aria-labelledby="norm-chart-title">${title}${legend}<figure>${normProfileSvg(c.normProfiles)}<figcaption>Mean gain of each norm vector (${c.normProfiles.labels.map(escapeHtml).join(', ')}).</figcaption></figure></section>`;
}

function meter(label: string, fraction: number): string {
  const clamped = Math.max(0, Math.min(1, fraction));
  return `<div class="meter-row"><span class="meter-label">${label}</span><svg class="meter" viewBox="0 0 200 10" width="200" height="10" role="img" aria-label="${label} ${clamped.toFixed(3)}"><rect class="meter-track" x="0" y="0" width="200" height="10"/><rect class="meter-fill" x="0" y="0" width="${n(clamped * 200)}" height="10"/></svg><span class="num">${clamped.toFixed(3)}</span></div>`;
}

function tokenizerSection(tokenizer: TokenizerComparison | undefined): string {
  const title = '<h3 id="tokenizer-title">Tokenizer overlap</h3>';
  if (!tokenizer) return '';
  return `<section id="tokenizer" aria-labelledby="tokenizer-title">${title}<p><strong>${escapeHtml(tokenizer.relation)}</strong>: ${tokenizer.sizeA.toLocaleString('en-US')} vs ${tokenizer.sizeB.toLocaleString('en-US')} tokens, common id prefix ${tokenizer.commonPrefix.toLocaleString('en-US')}${tokenizer.exact ? '' : ' (estimated from fingerprint sketches)'}.</p>${meter('Jaccard', tokenizer.jaccard)}${meter('A in B', tokenizer.containmentAinB)}${meter('B in A', tokenizer.containmentBinA)}<p class="note">A shared tokenizer is a family trait, never weight lineage.</p></section>`;
}

function declaredSection(c: Comparison): string {
  const declares = (side: SideSummary, label: string): string => `<li>${label} declares ${side.declaredBases.length > 0 ? side.declaredBases.map((b) => `<code>${escapeHtml(b)}</code>`).join(', ') : 'no base model'}</li>`;
  return `<section id="declared" aria-labelledby="declared-title"><h3 id="declared-title">Declared vs verified lineage</h3><p><span class="badge declared-${c.declared.status}">${escapeHtml(c.declared.status)}</span> ${escapeHtml(c.declared.detail)}</p><ul>${declares(c.a, 'A')}${declares(c.b, 'B')}<li>The weights say: <strong>${escapeHtml(VERDICT_TITLES[c.verdict].toLowerCase())}</strong></li></ul></section>`;
}

/** Which came first, only when the evidence says so, with its reason; alignment and notes otherwise. */
function directionSection(c: Comparison): string {
  const body = c.direction ? `<p><strong>${c.direction.parent === 'a' ? `A (${escapeHtml(c.a.name)}) came first` : `B (${escapeHtml(c.b.name)}) came first`}</strong>, because ${escapeHtml(c.direction.reason)}</p>` : '';
  const alignment = c.alignment ? `<p>Alignment: ${escapeHtml(c.alignment.kind)}: ${escapeHtml(c.alignment.detail)}</p>` : '';
  const notes = c.notes.length > 0 ? `<ul class="notes">${c.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('')}</ul>` : '';
  if (body === '' && alignment === '' && notes === '') return '';
  return `<section id="direction" aria-labelledby="direction-title"><h3 id="direction-title">${c.direction ? 'Direction' : 'Notes'}</h3>${body}${alignment}${notes}</section>`;
}

/** The report itself: the same markup in the webview and in the exported HTML. */
export function renderComparisonBody(c: Comparison, options: { exportButtons: boolean }): string {
  const p = formatLog10P(c.lineageLog10P);
  const toolbar = options.exportButtons
    ? '<div class="toolbar" role="toolbar" aria-label="Export report"><button type="button" data-export="json">Export JSON</button><button type="button" data-export="html">Export HTML</button></div>'
    : '';
  return [
    `<header><h1 id="verdict" class="verdict verdict-${c.verdict}">${VERDICT_TITLES[c.verdict]}</h1>`,
    `<p id="summary" class="summary">${escapeHtml(plainSummary(c))}</p>`,
    `<p class="pair">A <strong>${escapeHtml(c.a.name)}</strong> · B <strong>${escapeHtml(c.b.name)}</strong></p>${toolbar}`,
    '<p id="status" class="status" role="status" aria-live="polite"></p></header>',
    '<section id="how-we-know" aria-labelledby="how-we-know-title"><h2 id="how-we-know-title">How we know</h2>',
    `<p id="reason" class="reason">${escapeHtml(c.reason)}${p ? ` (combined lineage ${escapeHtml(p)}, under the null "B was trained independently of A")` : ''}</p>`,
    `<section id="evidence" aria-label="Evidence">${evidenceTable(c.evidence, c.thresholdLog10P)}</section>`,
    layerSection(c),
    normSection(c),
    tokenizerSection(c.tokenizer),
    declaredSection(c),
    directionSection(c),
    `<section id="models" aria-label="Models">${modelsTable(c)}</section>`,
    '</section>',
  ].filter((part) => part !== '').join('\n');
}

export function reportTitle(c: Comparison): string {
  return `${c.a.name} vs ${c.b.name}: ${VERDICT_TITLES[c.verdict].toLowerCase()}`;
}

export interface CompareWebviewAssets {
  /** `webview.cspSource`: the origin local resources are served from. */
  cspSource: string;
  nonce: string;
  scriptUri: string;
  styleUri: string;
}

/** Strict CSP: no inline script (only the nonce'd file), no inline style, nothing remote. */
export function compareWebviewCsp(assets: Pick<CompareWebviewAssets, 'cspSource' | 'nonce'>): string {
  return `default-src 'none'; img-src ${assets.cspSource} data:; style-src ${assets.cspSource}; font-src ${assets.cspSource}; script-src 'nonce-${assets.nonce}';`;
}

export function compareWebviewHtml(c: Comparison, assets: CompareWebviewAssets): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(compareWebviewCsp(assets))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${escapeHtml(assets.styleUri)}">
<title>${escapeHtml(reportTitle(c))}</title>
</head>
<body>
<main id="compare">
${renderComparisonBody(c, { exportButtons: true })}
</main>
<script nonce="${escapeHtml(assets.nonce)}" src="${escapeHtml(assets.scriptUri)}"></script>
</body>
</html>`;
}

/** Self-contained report: the stylesheet inlined (allowed by its hash), no script, nothing remote. */
export function standaloneReportHtml(c: Comparison, css: string): string {
  const styleHash = createHash('sha256').update(css).digest('base64');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'sha256-${styleHash}'; img-src data:;">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="generator" content="Lineage Lens">
<title>${escapeHtml(reportTitle(c))}</title>
<style>${css}</style>
</head>
<body>
<main id="compare">
${renderComparisonBody(c, { exportButtons: false })}
</main>
</body>
</html>
`;
}

/** 128 random bits, base64: a fresh nonce for every render. */
export function makeNonce(random: (size: number) => Uint8Array): string {
  return Buffer.from(random(16)).toString('base64');
}
