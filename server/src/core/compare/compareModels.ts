// Compares two models given as local models or fingerprint files. With both models at hand, anchor
// tokens are chosen per pair from the vocabulary both share, and the tokenizer relation is exact.
import { readFile, stat } from 'node:fs/promises';
import { extractFingerprint, type ExtractOptions } from '../fingerprint/extract';
import { parseFingerprint, MAX_FINGERPRINT_JSON_BYTES } from '../fingerprint/encoding';
import { anchorKey } from '../fingerprint/sampling';
import type { Fingerprint, TokenRowsSignal } from '../fingerprint/types';
import { openModel, type OpenedModel } from '../model/openModel';
import { mapTensorRoles } from '../model/roles';
import { compareVocabularies } from '../tokenizers/compare';
import { compareAdapter, describeAdapter } from './adapter';
import { compareFingerprints, DEFAULT_THRESHOLD_LOG10P, type CompareOptions } from './compare';
import { pairRowsByToken } from './pairing';
import type { Comparison, TokenizerComparison } from './types';

export interface ModelSide {
  target: string;
  fingerprint: Fingerprint;
  /** Present when the side is a model on disk (not a fingerprint file); the caller closes it. */
  model?: OpenedModel;
}

/** Opens a side: a fingerprint JSON file, or a model folder/file/cached repo id that is fingerprinted now. */
/** `openTarget` decides how a model target is opened (the CLI passes one that may read from the Hub). */
export async function loadSide(target: string, options: ExtractOptions = {}, openTarget: (target: string) => Promise<OpenedModel> = openModel): Promise<ModelSide> {
  if (target.toLowerCase().endsWith('.json')) {
    const info = await stat(target).catch(() => undefined);
    if (info?.isFile() && info.size <= MAX_FINGERPRINT_JSON_BYTES) {
      const text = await readFile(target, 'utf8');
      if (text.includes('"lineage-lens/fingerprint"')) return { target, fingerprint: parseFingerprint(text, target) };
    }
  }
  const model = await openTarget(target);
  try {
    return { target, model, fingerprint: await extractFingerprint(model, options) };
  } catch (err) {
    await model.close();
    throw err;
  }
}

export async function closeSide(side: ModelSide): Promise<void> {
  await side.model?.close();
}

export async function compareSides(a: ModelSide, b: ModelSide, options: CompareOptions = {}): Promise<Comparison> {
  // An adapter folder holds LoRA factors, not a model: it is checked for fit and declared base, or as part of a merge.
  for (const [adapterSide, other, adapterIsA] of [[a, b, true], [b, a, false]] as const) {
    const adapter = adapterSide.model && (await describeAdapter(adapterSide.model));
    if (adapter && adapterSide.model) {
      return compareAdapter(adapterSide.model, adapterSide.fingerprint, adapter, other.fingerprint, adapterIsA, options.thresholdLog10P ?? DEFAULT_THRESHOLD_LOG10P, options.adapterBase);
    }
  }
  let fa = a.fingerprint;
  let fb = b.fingerprint;
  let tokenizer = options.tokenizer;
  const va = a.model?.vocabulary;
  const vb = b.model?.vocabulary;
  if (va && vb) {
    const r = compareVocabularies(va, vb);
    tokenizer ??= {
      relation: r.relation,
      sizeA: r.sizeA,
      sizeB: r.sizeB,
      jaccard: r.jaccard,
      containmentAinB: r.containmentAinB,
      containmentBinA: r.containmentBinA,
      commonPrefix: r.commonPrefix,
      exact: true,
    } satisfies TokenizerComparison;
    if (a.model && b.model) [fa, fb] = await withPairAnchors(a.model, fa, b.model, fb);
  }
  return compareFingerprints(fa, fb, { ...options, tokenizer });
}

/**
 * If the two fingerprints' own anchors overlap poorly (different vocabulary sizes or orders), re-read
 * token rows for anchors chosen from the strings both vocabularies hold, within both embedding tables.
 */
async function withPairAnchors(ma: OpenedModel, fa: Fingerprint, mb: OpenedModel, fb: Fingerprint): Promise<[Fingerprint, Fingerprint]> {
  const ea = fa.tokenRows.find((t) => t.role === 'embed');
  const eb = fb.tokenRows.find((t) => t.role === 'embed');
  if (!ea || !eb || !ma.vocabulary || !mb.vocabulary) return [fa, fb];
  const overlap = pairRowsByToken(ea, eb).tokens.length;
  const wanted = Math.min(ea.tokens.length, eb.tokens.length);
  if (overlap >= 0.9 * wanted) return [fa, fb];

  const idsB = new Map<string, number>();
  mb.vocabulary.tokens.forEach((t, id) => {
    if (t !== '' && id < eb.rows && !idsB.has(t)) idsB.set(t, id);
  });
  const shared: Array<{ token: string; idA: number; idB: number; key: number }> = [];
  const seen = new Set<string>();
  ma.vocabulary.tokens.forEach((t, idA) => {
    const idB = idsB.get(t);
    if (idB === undefined || idA >= ea.rows || seen.has(t)) return;
    seen.add(t);
    shared.push({ token: t, idA, idB, key: anchorKey(t, fa.samplingPlan) });
  });
  shared.sort((x, y) => x.key - y.key || (x.token < y.token ? -1 : 1));
  const chosen = shared.slice(0, fa.samplingPlan.anchorCount);
  if (chosen.length <= overlap) return [fa, fb];
  const reread = async (m: OpenedModel, fp: Fingerprint, signal: TokenRowsSignal, ids: number[]): Promise<Fingerprint> => {
    const roles = mapTensorRoles(m.tensors.map((t) => t.name), { family: m.architecture?.family });
    const name = m.tensors.find((t) => t.shape.length === 2 && t.shape[0] === signal.rows && t.shape[1] === signal.cols && roles.get(t.name)?.role === signal.role);
    if (!name) return fp;
    const values = await m.store.readRowSet(name.name, ids);
    const replaced: TokenRowsSignal = { ...signal, tokens: chosen.map((c) => c.token), values };
    return { ...fp, tokenRows: fp.tokenRows.map((t) => (t === signal ? replaced : t)) };
  };
  return [await reread(ma, fa, ea, chosen.map((c) => c.idA)), await reread(mb, fb, eb, chosen.map((c) => c.idB))];
}
