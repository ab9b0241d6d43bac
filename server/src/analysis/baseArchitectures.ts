// Shapes of well-known base models (baseArchitectures.json) and the offline check they allow: a
// fine-tune or a quantization keeps its base's hidden size and layer count, so a mismatch refutes the claim.
import { formatCount } from '../protocol';
import table from './baseArchitectures.json';

export interface BaseShape {
  id: string;
  family: string;
  hiddenSize: number;
  layers: number;
  vocabSize: number;
  /** Rounded, as the model card states it. */
  parameters: number;
}

/** What was read from the model that declares the base; any field may be unknown. */
export interface SubjectShape {
  hiddenSize?: number;
  layers?: number;
  vocabSize?: number;
  parameterCount?: number;
}

interface TableRow {
  family: string;
  hiddenSize: number;
  layers: number;
  vocabSize: number;
  parameters: number;
  ids: string[];
}

const SHAPES: ReadonlyMap<string, BaseShape> = new Map(
  (table.families as TableRow[]).flatMap((row) => row.ids.map((id): [string, BaseShape] => [id.toLowerCase(), { id, family: row.family, hiddenSize: row.hiddenSize, layers: row.layers, vocabSize: row.vocabSize, parameters: row.parameters }])),
);

/** The shipped shape of a well-known base (ids compared case-insensitively, as the Hub does). */
export function knownBaseShape(repoId: string): BaseShape | undefined {
  return SHAPES.get(repoId.trim().toLowerCase());
}

/** Relations whose weights keep the base's dimensions; merges, distillations and unknown words are not judged. */
type ShapeRelation = 'finetune' | 'quantized' | 'adapter';

function shapeRelationOf(relation: string | undefined): ShapeRelation | undefined {
  const word = (relation ?? 'finetune').toLowerCase().replace(/[-_\s]/g, '');
  if (word === 'finetune' || word === 'finetuned') return 'finetune';
  if (word === 'quantized' || word === 'quantization') return 'quantized';
  if (word === 'adapter' || word === 'lora' || word === 'peft') return 'adapter';
  return undefined;
}

/** Outside this ratio of the base's parameter count a model cannot be its fine-tune or quantization. */
const PARAMETER_RATIO_LIMIT = 2;

/**
 * Why `subject` cannot stand in `relation` (a card's base_model_relation; none means fine-tune) to
 * `base`, or undefined when its shape allows the claim or too little is known. Only dimensions a
 * fine-tune never changes are judged; a vocabulary may grow by added tokens, so it is never a refutation.
 */
export function shapeContradiction(subject: SubjectShape, base: BaseShape, relation: string | undefined): string | undefined {
  const kind = shapeRelationOf(relation);
  if (kind === undefined) return undefined;
  const mismatches: string[] = [];
  if (subject.hiddenSize !== undefined && subject.hiddenSize > 0 && subject.hiddenSize !== base.hiddenSize) mismatches.push(`hidden size ${subject.hiddenSize} (${base.id}: ${base.hiddenSize})`);
  // An adapter may target a subset of layers, and its own parameters are few: only the width binds it.
  if (kind !== 'adapter') {
    if (subject.layers !== undefined && subject.layers > 0 && subject.layers !== base.layers) mismatches.push(`${subject.layers} layers (${base.id}: ${base.layers})`);
    const count = subject.parameterCount;
    if (count !== undefined && count > 0 && (count * PARAMETER_RATIO_LIMIT < base.parameters || count > base.parameters * PARAMETER_RATIO_LIMIT)) {
      mismatches.push(`${formatCount(count)} parameters (${base.id}: about ${formatCount(base.parameters)})`);
    }
  }
  if (mismatches.length === 0) return undefined;
  const what = kind === 'adapter' ? 'an adapter of' : kind === 'quantized' ? 'a quantization of' : 'a fine-tune of';
  return `its shape rules out ${what} ${base.id}: ${mismatches.join(', ')}`;
}
