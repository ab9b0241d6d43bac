// PEFT/LoRA adapter folders (adapter_config.json + adapter_model.safetensors) compared with a model: does the adapter
// fit it (target modules and shapes), does it declare it as its base, and is a merged model exactly base + scale·B·A?
import type { Fingerprint, MatrixRowsSignal } from '../fingerprint/types';
import { readAdapterConfig, type AdapterConfig } from '../model/adapter';
import type { OpenedModel } from '../model/openModel';
import { mapTensorRoles, type Role } from '../model/roles';
import { sideSummary } from './compare';
import type { Comparison, DeclaredCheck, EvidenceRow, Verdict } from './types';

/** LoRA factors are small (rank × width); anything larger than this per factor is refused as hostile. */
const MAX_FACTOR_ELEMENTS = 16 * 1024 * 1024;

export interface LoraModule {
  role: Role;
  layer?: number;
  /** Tensor names of the factors: A is [r, in], B is [out, r]. */
  a: string;
  b: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
}

export interface AdapterDescription {
  config: AdapterConfig;
  modules: LoraModule[];
  /** lora_alpha / r (or / √r with use_rslora). */
  scale: number;
}

/** The adapter in a model folder, when the folder is one (adapter_config.json and only LoRA factor tensors). */
export async function describeAdapter(model: OpenedModel): Promise<AdapterDescription | undefined> {
  if (!model.files.some((f) => f.role === 'adapter') || model.tensors.length === 0) return undefined;
  const roles = mapTensorRoles(model.tensors.map((t) => t.name));
  const factors = new Map<string, { a?: string; b?: string; role: Role; layer?: number; shapeA?: number[]; shapeB?: number[] }>();
  for (const t of model.tensors) {
    const r = roles.get(t.name)!;
    if (!r.lora) return undefined; // not purely an adapter (a merged model that ships its adapter config, say)
    if (r.part !== 'weight' || t.shape.length !== 2) continue;
    const key = `${r.lora.target}|${r.layer ?? ''}|${t.name.replace(/lora_[AB]/, 'lora_*')}`;
    const entry = factors.get(key) ?? { role: r.lora.target, layer: r.layer };
    if (r.lora.matrix === 'A') [entry.a, entry.shapeA] = [t.name, t.shape];
    else [entry.b, entry.shapeB] = [t.name, t.shape];
    factors.set(key, entry);
  }
  const config = await readAdapterConfig(model.location.folder);
  if (!config) return undefined;
  const modules: LoraModule[] = [];
  for (const f of factors.values()) {
    if (!f.a || !f.b || !f.shapeA || !f.shapeB || f.shapeA[0] !== f.shapeB[1]) continue;
    modules.push({ role: f.role, layer: f.layer, a: f.a, b: f.b, rank: f.shapeA[0]!, inFeatures: f.shapeA[1]!, outFeatures: f.shapeB[0]! });
  }
  const r = config.r ?? modules[0]?.rank ?? 1;
  const alpha = config.loraAlpha ?? r;
  const scale = config.raw['use_rslora'] === true ? alpha / Math.sqrt(r) : alpha / r;
  return { config, modules, scale };
}

interface Fit {
  fits: number;
  misfits: string[];
  /** The base weight each module lands on, by module index. */
  target: Map<number, { name: string; shape: number[] }>;
}

/** Each LoRA module needs a [out, in] weight of the same role and layer in the model. */
function checkFit(adapter: AdapterDescription, model: Fingerprint): Fit {
  const target = new Map<number, { name: string; shape: number[] }>();
  const misfits: string[] = [];
  adapter.modules.forEach((m, i) => {
    const t = model.tensors.find((x) => x.role === m.role && x.layer === m.layer && x.name.endsWith('weight') && x.shape.length === 2);
    const where = `${m.role}${m.layer === undefined ? '' : ` of layer ${m.layer}`}`;
    if (!t) misfits.push(`${where}: no such module`);
    else if (t.shape[0] !== m.outFeatures || t.shape[1] !== m.inFeatures) misfits.push(`${where}: adapter is ${m.outFeatures}×${m.inFeatures}, the model's weight is ${t.shape.join('×')}`);
    else target.set(i, { name: t.name, shape: t.shape });
  });
  return { fits: target.size, misfits, target };
}

/** Does the declared base name the compared model (same repo id, or the same last path segment)? */
function declaredBaseCheck(adapter: AdapterDescription, model: Fingerprint): { matches: boolean | undefined; detail: string } {
  const declared = adapter.config.baseModelNameOrPath;
  if (!declared) return { matches: undefined, detail: 'the adapter declares no base_model_name_or_path' };
  const tail = (s: string) => s.replace(/[\\/]+$/, '').split(/[\\/]/).pop()!.toLowerCase();
  const names = [model.model.repoId, model.model.name].filter((n): n is string => Boolean(n));
  const matches = names.some((n) => n.toLowerCase() === declared.toLowerCase() || tail(n) === tail(declared));
  return { matches, detail: `base_model_name_or_path is "${declared}"; the compared model is "${names[0] ?? '?'}"` };
}

/** Rounding tolerance of the merged model's storage type, relative to the row's largest value. */
function roundingTolerance(dtype: string): number {
  const upper = dtype.toUpperCase();
  if (upper.includes('BF16')) return 2 ** -7;
  if (upper.includes('F16')) return 2 ** -10;
  if (upper.includes('F32')) return 2 ** -20;
  return 2 ** -6; // quantized formats: only a coarse check
}

export interface MergeCheck {
  rowsChecked: number;
  worstRelativeError: number;
  /** Largest |scale·B·A| entry relative to its row: the adapter must move the weights more than rounding does. */
  deltaSize: number;
  withinRounding: boolean;
}

/**
 * merged ≟ base + scale·B·A on the rows both fingerprints sampled (same role, layer and positions); the factors are
 * read whole from the adapter (bounded). Rows of transposed (Conv1D) layouts are skipped.
 */
export async function checkMerge(adapterModel: OpenedModel, adapter: AdapterDescription, base: Fingerprint, merged: Fingerprint): Promise<MergeCheck> {
  let rowsChecked = 0;
  let worst = 0;
  let deltaSize = 0;
  let tolerance = 0;
  const find = (fp: Fingerprint, m: LoraModule) => fp.matrices.find((x) => x.role === m.role && x.layer === m.layer && x.rows === m.outFeatures && x.cols === m.inFeatures);
  for (const m of adapter.modules) {
    const baseRows: MatrixRowsSignal | undefined = find(base, m);
    const mergedRows: MatrixRowsSignal | undefined = find(merged, m);
    if (!baseRows || !mergedRows || baseRows.rowIndices.join() !== mergedRows.rowIndices.join()) continue;
    if (m.rank * (m.inFeatures + m.outFeatures) > MAX_FACTOR_ELEMENTS) throw new RangeError(`${adapterModel.location.displayName}: LoRA factor ${m.a} is too large`);
    const a = await adapterModel.store.readAll(m.a, MAX_FACTOR_ELEMENTS);
    const b = await adapterModel.store.readAll(m.b, MAX_FACTOR_ELEMENTS);
    tolerance = Math.max(tolerance, roundingTolerance(mergedRows.dtype));
    baseRows.rowIndices.forEach((row, i) => {
      let rowMax = 0;
      let rowWorst = 0;
      let rowDelta = 0;
      for (let c = 0; c < m.inFeatures; c++) {
        let delta = 0;
        for (let k = 0; k < m.rank; k++) delta += b[row * m.rank + k]! * a[k * m.inFeatures + c]!;
        delta *= adapter.scale;
        const predicted = baseRows.values[i * m.inFeatures + c]! + delta;
        const actual = mergedRows.values[i * m.inFeatures + c]!;
        rowMax = Math.max(rowMax, Math.abs(actual), Math.abs(predicted));
        rowWorst = Math.max(rowWorst, Math.abs(actual - predicted));
        rowDelta = Math.max(rowDelta, Math.abs(delta));
      }
      if (rowMax > 0) {
        worst = Math.max(worst, rowWorst / rowMax);
        deltaSize = Math.max(deltaSize, rowDelta / rowMax);
      }
      rowsChecked++;
    });
  }
  return { rowsChecked, worstRelativeError: worst, deltaSize, withinRounding: rowsChecked > 0 && worst <= tolerance && deltaSize > 4 * tolerance };
}

/**
 * The comparison of an adapter (side `adapterSide`) with a model. With `base` (the model the adapter was trained on),
 * the model is tested as a merge: B = base + this adapter. Without it, only fit and declaration can be checked.
 */
export async function compareAdapter(
  adapterModel: OpenedModel,
  adapterFingerprint: Fingerprint,
  adapter: AdapterDescription,
  other: Fingerprint,
  adapterIsA: boolean,
  threshold: number,
  base?: Fingerprint,
): Promise<Comparison> {
  const fit = checkFit(adapter, other);
  const declared = declaredBaseCheck(adapter, other);
  const targets = [...new Set(adapter.modules.map((m) => m.role))].join(', ');
  const evidence: EvidenceRow[] = [
    {
      signal: 'adapter fit',
      test: `LoRA rank ${adapter.modules[0]?.rank ?? '?'} on ${targets}: every module needs a weight of the same role, layer and shape`,
      outcome: 'info',
      detail: `${fit.fits} of ${adapter.modules.length} modules fit${fit.misfits.length ? `; ${fit.misfits.slice(0, 3).join('; ')}${fit.misfits.length > 3 ? '; ...' : ''}` : ''}`,
    },
    { signal: 'declared base', test: 'adapter_config.json base_model_name_or_path', outcome: 'info', detail: declared.detail },
  ];
  let verdict: Verdict;
  let reason: string;
  let declaredCheck: DeclaredCheck;
  const fitsAll = adapter.modules.length > 0 && fit.fits === adapter.modules.length;
  if (!fitsAll) {
    verdict = 'unrelated';
    reason = `the adapter does not fit this model (${fit.misfits.length} of ${adapter.modules.length} modules: ${fit.misfits[0] ?? 'no LoRA modules'})`;
    declaredCheck = declared.matches
      ? { status: 'contradicted', detail: `${declared.detail}, but the shapes do not fit` }
      : { status: declared.matches === undefined ? 'none' : 'unverified', detail: declared.detail };
  } else if (base) {
    const merge = await checkMerge(adapterModel, adapter, base, other);
    evidence.push({
      signal: 'merged weights',
      test: 'sampled rows of the model against base + scale·B·A (scale = lora_alpha / r)',
      outcome: merge.withinRounding ? 'lineage' : 'no-evidence',
      detail: `${merge.rowsChecked} rows, worst relative difference ${merge.worstRelativeError.toExponential(1)}, adapter update up to ${merge.deltaSize.toExponential(1)} of the row`,
    });
    if (merge.withinRounding) {
      verdict = 'derived';
      reason = `B = base + this adapter: ${merge.rowsChecked} sampled rows equal base + ${adapter.scale}·B·A within rounding (worst ${merge.worstRelativeError.toExponential(1)})`;
    } else if (merge.rowsChecked === 0) {
      verdict = 'inconclusive';
      reason = 'the adapter fits, but the base and the model share no sampled rows of the adapted modules';
    } else {
      verdict = 'same-family';
      reason = `the adapter fits, but the model is not base + this adapter (worst relative difference ${merge.worstRelativeError.toExponential(1)}${merge.deltaSize <= 4 * merge.worstRelativeError ? '; the adapter update is below rounding' : ''})`;
    }
    declaredCheck = { status: declared.matches ? 'confirmed' : 'unverified', detail: declared.detail };
  } else if (declared.matches) {
    verdict = 'same-family';
    reason = `the adapter fits this model (${fit.fits} of ${adapter.modules.length} modules, shapes match) and declares it as its base; an adapter holds no copy of its base's weights, so fit and declaration are what can be checked`;
    declaredCheck = { status: 'unverified', detail: `${declared.detail}; the adapter fits it` };
  } else {
    verdict = 'inconclusive';
    reason = `the adapter fits this model's shapes (${fit.fits} modules) but declares ${adapter.config.baseModelNameOrPath ? `"${adapter.config.baseModelNameOrPath}"` : 'no base'}: base absent, so "B = base + this adapter" cannot be tested (give the base too)`;
    declaredCheck = { status: declared.matches === undefined ? 'none' : 'unverified', detail: declared.detail };
  }
  const sideA = adapterIsA ? adapterFingerprint : other;
  const sideB = adapterIsA ? other : adapterFingerprint;
  return {
    schema: 'lineage-lens/comparison',
    schemaVersion: 1,
    a: sideSummary(sideA),
    b: sideSummary(sideB),
    verdict,
    reason,
    thresholdLog10P: threshold,
    evidence,
    layers: [],
    normProfiles: { labels: [], a: [], b: [] },
    declared: declaredCheck,
    notes: [`${adapterIsA ? 'A' : 'B'} is a PEFT adapter (${adapter.config.peftType ?? 'LORA'}, ${adapter.modules.length} modules, scale ${adapter.scale})`],
  };
}
