// A plain-data summary of an opened model (what `lineage inspect` prints and the LSP hover shows).
// Pure: computed from OpenedModel without reading tensor bytes.
import type { DType } from '../formats/dtypes';
import { elementCount, type SecurityFinding } from '../formats/types';
import type { ArchitectureTuple } from './config';
import type { DeclaredLineage } from './declared';
import type { ModelFile, OpenedModel } from './openModel';

export interface TokenizerSummary {
  model: string;
  convention: string;
  size: number;
  mergeCount: number;
  specialTokens: string[];
  source: string;
}

export interface ModelSummary {
  target: string;
  location: { kind: string; folder: string; file?: string; repoId?: string; commit?: string };
  format: string;
  files: Array<ModelFile & { sha256?: string }>;
  weightFiles: string[];
  tensorCount: number;
  parameterCount: number;
  dtypes: Partial<Record<DType, number>>;
  architecture?: ArchitectureTuple;
  tokenizer?: TokenizerSummary;
  declared: DeclaredLineage;
  findings: SecurityFinding[];
  problems: string[];
}

/** Tensors that hold no learned parameters (attention masks saved as buffers by older transformers). */
function isBufferTensor(name: string): boolean {
  return /(^|\.)attn\.(masked_)?bias$/.test(name) || name.endsWith('.masked_bias');
}

export function summarizeModel(model: OpenedModel, target: string): ModelSummary {
  const dtypes: Partial<Record<DType, number>> = {};
  let parameterCount = 0;
  // Tied weights (an lm_head sharing the embedding's storage) are one set of parameters.
  const storages = new Set<string>();
  for (const t of model.tensors) {
    dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    const storage = `${t.file}|${t.dataOffset}|${t.byteLength}`;
    if (!isBufferTensor(t.name) && !storages.has(storage)) parameterCount += elementCount(t.shape);
    storages.add(storage);
  }
  const v = model.vocabulary;
  return {
    target,
    location: {
      kind: model.location.kind,
      folder: model.location.folder,
      file: model.location.file,
      repoId: model.location.repoId,
      commit: model.location.commit,
    },
    format: model.format,
    files: model.files,
    weightFiles: model.weightFiles,
    tensorCount: model.tensors.length,
    parameterCount,
    dtypes,
    architecture: model.architecture,
    tokenizer: v && {
      model: v.model,
      convention: v.convention,
      size: v.tokens.length,
      mergeCount: v.merges.length,
      specialTokens: v.specialTokens.slice(0, 12).map((s) => s.content),
      source: v.source,
    },
    declared: model.declared,
    findings: model.findings,
    problems: model.problems,
  };
}
