// Decides how two fingerprinted models are related: identical bytes, same weights, a quantization,
// a derivation (calibrated lineage p-value), or no lineage — with the evidence, layers and direction.
import type { Fingerprint } from '../fingerprint/types';
import { minhashJaccard } from '../fingerprint/sampling';
import { composedAlignmentTest } from './composedAlignment';
import { checkQuantization, compareTensorDigests, sameWeightFiles } from './identity';
import { alignLayers, alignResidualChannels, log10FromLn, matchChannelsAcrossWidths, neuronAxisTest, residualAxisTest, signFlipRowTest, tokenAxisTest, type AxisTest } from './lineageTests';
import { hiddenSize, identityLayerMap, layerCount, pairMatrices, pairOutputRows, pairTokenRows, pairVectors, type LayerMap } from './pairing';
import { bonferroniLogP, formatPValue } from './stats';
import { RELATED_VERDICTS, type Comparison, type DeclaredCheck, type EvidenceRow, type LayerEvidence, type SideSummary, type TokenizerComparison, type Verdict } from './types';

export interface CompareOptions {
  /** log10 of the p-value below which lineage is declared (`derived`); default -12. */
  thresholdLog10P?: number;
  /** Exact tokenizer relation when both vocabularies were read (otherwise estimated from sketches). */
  tokenizer?: TokenizerComparison;
  /**
   * Try a residual-channel alignment when the direct tests find nothing (default true). It costs
   * O(d^2 * anchors) plus a d x d assignment: seconds at d = 4096, so bulk scans may turn it off.
   */
  alignResidual?: boolean;
  /** When one side is a PEFT adapter: the base it was trained on, so the other side can be tested as base + adapter. */
  adapterBase?: Fingerprint;
}

export const DEFAULT_THRESHOLD_LOG10P = -12;
/** Below this width the residual permutation null has too few states; the token axis carries the test. */
const NARROW_WIDTH = 32;

const TEST_NAMES: Record<AxisTest['family'], string> = {
  residual: 'residual-channel permutation null',
  'aligned-residual': 'residual-channel permutation null, after signed-permutation alignment',
  neuron: 'MLP-neuron permutation null, per layer, Fisher',
  token: 'anchor-token re-pairing null',
  width: 'value/up-projection sign-flip null, residual channels mapped across widths by embedding columns',
  composed: 'value/up-projection sign-flip null, after residual rotation and neuron/head re-matching',
};

const SIGNAL_NAMES: Record<AxisTest['family'], string> = {
  residual: 'norm gains, anchor-token rows, sampled q/k/v/gate/up rows',
  'aligned-residual': 'norm gains, sampled q/k/v/gate/up rows (aligned)',
  neuron: 'sampled MLP output rows',
  token: 'anchor-token embedding rows',
  width: 'sampled value and up-projection rows',
  composed: 'sampled value and up-projection rows (re-aligned)',
};

export function compareFingerprints(a: Fingerprint, b: Fingerprint, options: CompareOptions = {}): Comparison {
  const threshold = options.thresholdLog10P ?? DEFAULT_THRESHOLD_LOG10P;
  const evidence: EvidenceRow[] = [];
  const notes: string[] = [];
  const tokenizer = options.tokenizer ?? estimateTokenizerRelation(a, b);
  const base = {
    schema: 'lineage-lens/comparison' as const,
    schemaVersion: 1 as const,
    a: sideSummary(a),
    b: sideSummary(b),
    thresholdLog10P: threshold,
    tokenizer,
    normProfiles: { labels: [] as string[], a: [] as number[], b: [] as number[] },
    layers: [] as LayerEvidence[],
    notes,
  };
  if (tokenizer) evidence.push(tokenizerEvidence(tokenizer));
  const digests = compareTensorDigests(a, b);

  if (sameWeightFiles(a, b)) {
    evidence.unshift({ signal: 'file hashes', test: 'sha256 of every weight file', outcome: 'lineage', detail: 'all weight files are byte-identical' });
    return finish({ ...base, verdict: 'identical', reason: 'the weight files are byte-identical (equal sha256)', evidence, declared: checkDeclared(a, b, 'identical') });
  }

  const allDigestsEqual = digests.shared > 0 && digests.equal === digests.shared && digests.onlyA.length === 0 && digests.onlyB.length === 0;
  evidence.push({
    signal: 'tensor digests',
    test: 'sha256 of canonically decoded values, per tensor role',
    outcome: allDigestsEqual ? 'lineage' : 'info',
    detail: `${digests.equal} of ${digests.shared} shared tensors equal${digests.onlyA.length ? `; ${digests.onlyA.length} only in A` : ''}${digests.onlyB.length ? `; ${digests.onlyB.length} only in B` : ''}${digests.shapeMismatches ? `; ${digests.shapeMismatches} with different shapes` : ''}`,
  });
  if (allDigestsEqual) {
    const how = a.model.format === b.model.format ? 'another layout or dtype' : `${a.model.format} vs ${b.model.format}`;
    return finish({ ...base, verdict: 'same-weights', reason: `all ${digests.shared} tensors decode to identical values (${how})`, evidence, declared: checkDeclared(a, b, 'same-weights') });
  }

  const dA = hiddenSize(a);
  const dB = hiddenSize(b);
  const layersA = layerCount(a);
  const layersB = layerCount(b);
  const families: AxisTest[] = [];
  let layers: LayerEvidence[] = [];
  let alignmentNote: Comparison['alignment'];
  let layerMap: LayerMap = identityLayerMap(Math.min(layersA, layersB));
  let layerSearchLog = 0;
  /** Widths differ and no valid cross-width test applies (no value/up rows at shared positions). */
  let noTestAcrossWidths = false;
  let widthTestDetail = '';

  if (dA !== undefined && dA === dB) {
    if (layersA !== layersB) {
      ({ map: layerMap, logSearchSize: layerSearchLog } = alignLayers(a, b, layersA, layersB, dA));
      notes.push(`depths differ (${layersA} vs ${layersB} layers): layers were matched by a monotone alignment (${[...layerMap].map(([x, y]) => `${x}->${y}`).join(', ')})`);
    }
    const vectors = pairVectors(a, b, layerMap);
    const matrices = pairMatrices(a, b, layerMap);
    const tokens = pairTokenRows(a, b);
    base.normProfiles = normProfiles(vectors);

    const quant = checkQuantization(vectors, matrices, tokens);
    if (quant.withinGrid && digests.shapeMismatches === 0 && layersA === layersB) {
      if (quant.precisionDiffers) {
        const child = quant.finer === 'a' ? 'B' : 'A';
        evidence.push({ signal: 'sampled values', test: 'difference within the rounding grid of the coarser format', outcome: 'lineage', detail: quant.detail });
        return finish({
          ...base,
          verdict: 'quantized',
          reason: `${child} holds the other's values rounded to a coarser format (worst relative difference ${quant.worstRelativeError.toExponential(1)}, within rounding)`,
          evidence,
          direction: quant.finer ? { parent: quant.finer, reason: 'the quantized side has the coarser storage type' } : undefined,
          declared: checkDeclared(a, b, 'quantized'),
        });
      }
      if (quant.worstRelativeError === 0 && quant.compared > 0) {
        evidence.push({ signal: 'sampled values', test: 'element-wise equality of every sampled signal', outcome: 'lineage', detail: quant.detail });
        return finish({ ...base, verdict: 'same-weights', reason: 'every sampled value is identical', evidence, declared: checkDeclared(a, b, 'same-weights') });
      }
    }

    const residual = residualAxisTest(dA, vectors, matrices, tokens);
    if (layerSearchLog > 0) residual.joint.logP = Math.min(0, residual.joint.logP + layerSearchLog);
    families.push(residual.joint);
    families.push(neuronAxisTest(matrices));
    const embedPair = tokens.find((t) => t.role === 'embed');
    if (dA < NARROW_WIDTH && embedPair) {
      families.push(tokenAxisTest(embedPair));
      notes.push(`narrow model (${dA} channels): the anchor-token test assumes neither model's token rows carry shared token-specific structure (true for random initializations; weaker for trained models)`);
    }
    let perLayer = residual.perLayer;
    if (options.alignResidual !== false && log10FromLn(combine(families)) > threshold && embedPair) {
      const alignment = alignResidualChannels(embedPair);
      if (alignment) {
        const aligned = residualAxisTest(dA, vectors, matrices, [], alignment);
        if (layerSearchLog > 0) aligned.joint.logP = Math.min(0, aligned.joint.logP + layerSearchLog);
        families.push(aligned.joint);
        if (aligned.joint.testable && aligned.joint.logP < residual.joint.logP) perLayer = aligned.perLayer;
        const moved = alignment.perm.reduce((n, p, i) => n + (p !== i || alignment.sign[i]! < 0 ? 1 : 0), 0);
        alignmentNote = {
          kind: 'signed permutation of residual channels',
          detail: `linear assignment on |correlation| of embedding columns over ${alignment.anchors} anchors: ${moved} of ${dA} channels moved, mean |corr| ${alignment.meanAbsCorrelation.toFixed(3)}`,
        };
      }
    }
    // Stacked disguises (norm folding, a residual rotation, neuron and head permutations, rescaling) defeat the tests
    // above; recover the rotation, re-match neurons and heads per layer, and test on rows no selection used.
    if (options.alignResidual !== false && log10FromLn(combine(families)) > threshold && embedPair) {
      const composed = composedAlignmentTest(a, b, embedPair, layerMap, dA);
      if (composed.test.testable) {
        if (layerSearchLog > 0) composed.test.logP = Math.min(0, composed.test.logP + layerSearchLog);
        families.push(composed.test);
        alignmentNote ??= { kind: 'residual rotation, then neurons and heads re-matched', detail: composed.test.detail };
      }
    }
    layers = [...perLayer].filter(([, t]) => t.testable).map(([la, t]) => ({ layerA: la, layerB: layerMap.get(la) ?? la, log10P: log10FromLn(t.logP), z: t.z, rows: t.rows }));
  } else if (dA !== undefined && dB !== undefined) {
    // Select on one part (embedding columns give the channel map), test on another (value/up rows under their
    // sign-flip symmetry, which the selection never sees), so the shared token structure cannot fake lineage.
    const embedPair = pairTokenRows(a, b).find((t) => t.role === 'embed');
    const map = embedPair && matchChannelsAcrossWidths(embedPair);
    const depthMap = identityLayerMap(Math.min(layersA, layersB));
    const widthTest = map ? signFlipRowTest(pairOutputRows(a, b, depthMap), map) : undefined;
    if (widthTest) families.push(widthTest);
    noTestAcrossWidths = !widthTest?.testable;
    widthTestDetail = widthTest ? widthTest.detail : 'too few shared anchor tokens to map the channels';
    notes.push(`hidden sizes differ (${dA} vs ${dB}): index-aligned tests cannot run; residual channels were mapped across widths on embedding columns and the map was tested on value/up-projection rows`);
  }

  for (const f of families) {
    evidence.push({
      signal: SIGNAL_NAMES[f.family],
      test: `${TEST_NAMES[f.family]}; ${f.detail}`,
      outcome: !f.testable ? 'not-run' : log10FromLn(f.logP) < threshold ? 'lineage' : 'no-evidence',
      log10P: f.testable ? log10FromLn(f.logP) : undefined,
      floorLog10P: f.testable ? log10FromLn(f.floorLogP) : undefined,
      z: f.testable && f.z ? f.z : undefined,
      statistic: f.testable && f.statistic ? f.statistic : undefined,
      detail: f.testable ? `${formatPValue(f.logP, f.floorLogP)}${f.statistic ? ` (${f.statistic})` : ''}` : `not run: ${f.n > 0 && f.n < 3 ? `only ${f.n} channel(s), too few for a permutation null` : 'nothing comparable on this axis'}`,
    });
  }
  const ran = families.filter((f) => f.testable);
  const combinedLn = ran.length ? combine(ran) : undefined;
  const lineageLog10P = combinedLn === undefined ? undefined : log10FromLn(combinedLn);
  // Bonferroni over m families cannot go below m times the smallest family floor.
  const floorLn = ran.length ? Math.min(0, Math.log(ran.length) + Math.min(...ran.map((f) => f.floorLogP))) : undefined;
  const shared = sharedStructure(a, b, tokenizer);

  let verdict: Verdict;
  let reason: string;
  if (lineageLog10P !== undefined && lineageLog10P < threshold) {
    verdict = 'derived';
    const strongest = ran.reduce((best, f) => (f.logP < best.logP ? f : best));
    const sharedLayers = layers.filter((l) => l.log10P < -3).length;
    reason = `B shares A's weights: ${formatPValue(combinedLn!, floorLn)} under the null of independent initialization (strongest: ${TEST_NAMES[strongest.family]}${layers.length && strongest.family !== 'composed' && strongest.family !== 'width' ? `; ${sharedLayers} of ${layers.length} layers carry evidence` : ''})`;
  } else if (ran.length > 0) {
    verdict = shared.shared ? 'same-family' : 'unrelated';
    const p = formatPValue(combinedLn!, floorLn);
    reason = shared.shared ? `no weight lineage found (${p}); they share ${shared.what}` : `no weight lineage found (${p}) and no shared tokenizer or architecture`;
  } else if (noTestAcrossWidths && shared.shared) {
    verdict = 'same-family';
    reason = `no valid weight lineage test applies across these widths (${dA} vs ${dB}: ${widthTestDetail}), so none is claimed; they share ${shared.what}`;
  } else if (!shared.shared && (a.tensors.length > 0 && b.tensors.length > 0 || architecturesDiffer(a, b))) {
    verdict = 'unrelated';
    reason = `no shared structure: ${describeMismatch(a, b)}`;
  } else if (!shared.shared) {
    verdict = 'inconclusive';
    reason = `weights could not be compared (${whyNotCompared(a, b, dA, dB)}) and nothing else is shared`;
  } else {
    verdict = 'inconclusive';
    reason = `weights could not be compared (${whyNotCompared(a, b, dA, dB)}); they share ${shared.what}`;
  }

  return finish({
    ...base,
    verdict,
    reason,
    lineageLog10P,
    lineageFloorLog10P: floorLn === undefined ? undefined : log10FromLn(floorLn),
    evidence,
    layers,
    alignment: alignmentNote,
  });

  function finish(c: Omit<Comparison, 'declared' | 'direction'> & Partial<Pick<Comparison, 'declared' | 'direction'>>): Comparison {
    // A parent/child direction only means something between related models.
    const related = RELATED_VERDICTS.has(c.verdict);
    const direction = related
      ? c.direction ?? directionHint(a, b, tokenizer, digests.onlyA.length, digests.onlyB.length, layerCount(a), layerCount(b), hiddenSize(a), hiddenSize(b))
      : undefined;
    return { ...c, declared: c.declared ?? checkDeclared(a, b, c.verdict), direction };
  }
}

/** The families are computed on overlapping data, so they are combined by Bonferroni (valid under any dependence). */
function combine(families: AxisTest[]): number {
  const ran = families.filter((f) => f.testable);
  return ran.length ? bonferroniLogP(ran.map((f) => f.logP)) : 0;
}

export function sideSummary(fp: Fingerprint): SideSummary {
  const arch = fp.architecture;
  return {
    name: fp.model.name,
    format: fp.model.format,
    parameterCount: fp.model.parameterCount,
    architecture: arch?.family,
    hiddenSize: hiddenSize(fp),
    layers: layerCount(fp) || arch?.layers,
    declaredBases: fp.declared.claims.map((c) => c.baseModel),
    bytesRead: fp.bytesRead,
  };
}

/** Tokenizer relation from fingerprint sketches (MinHash Jaccard, sizes, id-prefix hashes). */
export function estimateTokenizerRelation(a: Fingerprint, b: Fingerprint): TokenizerComparison | undefined {
  const ta = a.tokenizer;
  const tb = b.tokenizer;
  if (!ta || !tb) return undefined;
  const jaccard = ta.tokensHash === tb.tokensHash ? 1 : minhashJaccard(ta.minhash, tb.minhash);
  // |A ∩ B| from Jaccard and sizes: J = i / (|A| + |B| - i).
  const intersection = (jaccard * (ta.size + tb.size)) / (1 + jaccard);
  let prefixBlocks = 0;
  while (prefixBlocks < Math.min(ta.prefixHashes.length, tb.prefixHashes.length) && ta.prefixHashes[prefixBlocks] === tb.prefixHashes[prefixBlocks]) prefixBlocks++;
  const commonPrefix = ta.tokensHash === tb.tokensHash ? ta.size : prefixBlocks * 1024;
  const smaller = Math.min(ta.size, tb.size);
  let relation: string;
  if (ta.tokensHash === tb.tokensHash) relation = 'identical';
  else if (commonPrefix >= smaller - 1024 && prefixBlocks > 0) relation = ta.size < tb.size ? 'b-extends-a' : ta.size > tb.size ? 'a-extends-b' : 'common-ancestor';
  else if (commonPrefix >= smaller / 2) relation = 'common-ancestor';
  else if (intersection / Math.max(1, smaller) >= 0.2) relation = 'overlapping';
  else relation = 'disjoint';
  return {
    relation,
    sizeA: ta.size,
    sizeB: tb.size,
    jaccard,
    containmentAinB: Math.min(1, intersection / Math.max(1, ta.size)),
    containmentBinA: Math.min(1, intersection / Math.max(1, tb.size)),
    commonPrefix,
    exact: false,
  };
}

function tokenizerEvidence(t: TokenizerComparison): EvidenceRow {
  return {
    signal: 'tokenizer',
    test: t.exact ? 'normalized vocabularies compared token by token' : 'MinHash sketch and id-prefix hashes',
    outcome: 'info',
    detail: `${t.relation}: ${t.sizeA} vs ${t.sizeB} tokens, Jaccard ${t.jaccard.toFixed(3)}, containment A in B ${t.containmentAinB.toFixed(3)}, common id prefix ${t.commonPrefix} (a shared tokenizer is a family trait, never weight lineage)`,
  };
}

function sharedStructure(a: Fingerprint, b: Fingerprint, t: TokenizerComparison | undefined): { shared: boolean; what: string } {
  const sameTokenizer = t && ['identical', 'a-extends-b', 'b-extends-a', 'common-ancestor'].includes(t.relation);
  const fa = a.architecture;
  const fb = b.architecture;
  const sameArchitecture = fa && fb && fa.family === fb.family && fa.family !== 'unknown';
  if (sameTokenizer && sameArchitecture) return { shared: true, what: `the ${fa.family} architecture and a tokenizer (${t.relation})` };
  if (sameTokenizer) return { shared: true, what: `a tokenizer (${t.relation})` };
  if (sameArchitecture) return { shared: true, what: `the ${fa.family} architecture` };
  return { shared: false, what: '' };
}

/** Both architectures are known and differ in family or width (so neither can be the other's weights). */
function architecturesDiffer(a: Fingerprint, b: Fingerprint): boolean {
  const fa = a.architecture;
  const fb = b.architecture;
  return Boolean(fa && fb && (fa.family !== fb.family || (fa.hiddenSize && fb.hiddenSize && fa.hiddenSize !== fb.hiddenSize)));
}

function describeMismatch(a: Fingerprint, b: Fingerprint): string {
  const arch = (fp: Fingerprint) => fp.architecture?.family ?? (fp.tensors.length ? 'unknown architecture' : 'no weights');
  const tok = (fp: Fingerprint) => (fp.tokenizer ? `${fp.tokenizer.size}-token ${fp.tokenizer.convention} tokenizer` : 'no tokenizer');
  return `A is ${arch(a)} with ${tok(a)}; B is ${arch(b)} with ${tok(b)}`;
}

function whyNotCompared(a: Fingerprint, b: Fingerprint, dA: number | undefined, dB: number | undefined): string {
  if (a.tensors.length === 0 || b.tensors.length === 0) return `${a.tensors.length === 0 ? 'A' : 'B'} has no readable weights`;
  if (dA === undefined || dB === undefined) return 'no hidden size could be determined';
  return 'no comparable tensors';
}

function normProfiles(vectors: ReturnType<typeof pairVectors>): Comparison['normProfiles'] {
  const out = { labels: [] as string[], a: [] as number[], b: [] as number[] };
  for (const v of vectors) {
    if (v.a.part !== 'weight') continue;
    out.labels.push(`${v.layerA === undefined ? '' : `L${v.layerA} `}${v.a.role}`);
    out.a.push(mean(v.a.values));
    out.b.push(mean(v.b.values));
  }
  return out;
}

function mean(values: Float32Array): number {
  let s = 0;
  for (const x of values) s += x;
  return values.length ? s / values.length : 0;
}

function identityNames(fp: Fingerprint): string[] {
  return [fp.model.repoId, fp.model.name].filter((n): n is string => Boolean(n)).map((n) => n.toLowerCase());
}

function declares(child: Fingerprint, parent: Fingerprint): string | undefined {
  const names = identityNames(parent);
  return child.declared.claims.find((c) => names.some((n) => n === c.baseModel.toLowerCase() || n.endsWith('/' + c.baseModel.toLowerCase().split('/').pop())))?.baseModel;
}

function checkDeclared(a: Fingerprint, b: Fingerprint, verdict: Verdict): DeclaredCheck {
  const related = RELATED_VERDICTS.has(verdict);
  const bClaimsA = declares(b, a);
  const aClaimsB = declares(a, b);
  const claim = bClaimsA ? { who: 'B', base: bClaimsA } : aClaimsB ? { who: 'A', base: aClaimsB } : undefined;
  if (claim) {
    if (related) return { status: 'confirmed', detail: `${claim.who} declares ${claim.base} as its base, and the weights confirm it` };
    if (verdict === 'inconclusive') return { status: 'unverified', detail: `${claim.who} declares ${claim.base} as its base; the weights could not be compared` };
    return { status: 'contradicted', detail: `${claim.who} declares ${claim.base} as its base, but the weights show no lineage` };
  }
  const claims = [...a.declared.claims.map((c) => `A declares ${c.baseModel} (${c.source})`), ...b.declared.claims.map((c) => `B declares ${c.baseModel} (${c.source})`)];
  if (claims.length) return { status: 'unverified', detail: `${claims.join('; ')}; not the model compared here` };
  return { status: 'none', detail: 'neither model declares a base model' };
}

function directionHint(
  a: Fingerprint,
  b: Fingerprint,
  tokenizer: TokenizerComparison | undefined,
  onlyA: number,
  onlyB: number,
  layersA: number,
  layersB: number,
  dA: number | undefined,
  dB: number | undefined,
): Comparison['direction'] {
  const bClaimsA = declares(b, a);
  if (bClaimsA) return { parent: 'a', reason: `B's metadata declares ${bClaimsA} as its base model` };
  const aClaimsB = declares(a, b);
  if (aClaimsB) return { parent: 'b', reason: `A's metadata declares ${aClaimsB} as its base model` };
  if (tokenizer?.relation === 'b-extends-a') return { parent: 'a', reason: `B's vocabulary extends A's (${tokenizer.sizeB - tokenizer.sizeA} tokens added)` };
  if (tokenizer?.relation === 'a-extends-b') return { parent: 'b', reason: `A's vocabulary extends B's (${tokenizer.sizeA - tokenizer.sizeB} tokens added)` };
  if (layersA !== layersB && layersA > 0 && layersB > 0) return { parent: layersA > layersB ? 'a' : 'b', reason: "the deeper model's layers contain the other's (layer pruning)" };
  if (dA !== undefined && dB !== undefined && dA !== dB) return { parent: dA > dB ? 'a' : 'b', reason: 'the wider model contains the narrower one (width pruning)' };
  if (onlyB > 0 && onlyA === 0) return { parent: 'a', reason: `B has ${onlyB} tensor(s) A lacks (added modules)` };
  if (onlyA > 0 && onlyB === 0) return { parent: 'b', reason: `A has ${onlyA} tensor(s) B lacks (added modules)` };
  return undefined;
}
