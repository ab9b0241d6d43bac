// Gives the initializers of an ONNX export the names and orientation their PyTorch originals have, by
// following each one to the nodes that consume it (torch.onnx names nodes by module path).
import * as path from 'node:path';
import type { OnnxModel, OnnxNode } from '../formats/onnx';
import { TensorStore, type SourceOpener } from '../formats/tensorStore';
import { elementCount, type TensorInfo } from '../formats/types';
import { mapTensorRole, type Role, type TensorRole } from './roles';

/**
 * What the graph told us about the model's tensors. Stored names that already map to a role are
 * trusted and kept; anonymous ones (`onnx::MatMul_1400`) are renamed after the module that consumes
 * them; a weight stored [in, out] (an ONNX MatMul operand) whose original is a torch Linear [out, in]
 * is presented as a transposed view of its storage, so fingerprints see the original's orientation.
 */
export interface OnnxRoleAssignment {
  /** The model's tensors as the fingerprint should see them (renamed, transposed views, aliases). */
  tensors: TensorInfo[];
  /** Stored name -> name given from the graph. */
  renamed: Map<string, string>;
  /** Names presented as transposed views of their storage. */
  transposedViews: string[];
  /** Alias -> stored name: one initializer shared by several modules (exporters deduplicate equal tensors). */
  aliases: Map<string, string>;
  /** Stored name of an LM head that is the tied embedding, transposed: left out, as the original has none. */
  tiedHead?: string;
  /** Anonymous initializers the graph names no module for: their roles stay unknown. */
  unresolved: string[];
  /** Sentences for the model's problems list (fallbacks and conflicts). */
  notes: string[];
}

export interface OnnxRoleOptions {
  /** config.json model_type, for names whose layout depends on the family (GPT-2 Conv1D). */
  family?: string;
  /** Opens the model's files (confined) and inline tensors; needed to check a tied LM head. */
  openSource: SourceOpener;
}

/** How a weight matrix is stored: ONNX MatMul's B is [in, out]; torch Linear and Gemm with transB are [out, in]. */
type StoredLayout = 'in-out' | 'out-in';
/** What kind of parameter a consumer slot takes, so a name derived from its module is checked against it. */
type SlotKind = 'matrix' | 'embedding' | 'norm' | 'any';

interface TensorUse {
  /** Module path from the node, e.g. `model.layers.0.mlp.gate_proj`. */
  module: string;
  part: 'weight' | 'bias';
  kind: SlotKind;
  layout?: StoredLayout;
}

interface NamedUse extends TensorUse {
  name: string;
  role: TensorRole;
}

const MATRIX_ROLES: ReadonlySet<Role> = new Set<Role>(['q', 'k', 'v', 'o', 'qkv', 'gate', 'up', 'down', 'gate_up', 'lm_head']);
const NORM_ROLES: ReadonlySet<Role> = new Set<Role>(['attn_norm', 'mlp_norm', 'final_norm']);
/** Ops whose first output is their first input in another dtype or layout: followed one hop to the real consumer. */
const PASS_THROUGH_OPS: ReadonlySet<string> = new Set(['Transpose', 'Cast', 'Identity']);
/** Scale/bias input slots of the normalization ops (ONNX and com.microsoft contrib ops). */
const NORM_SLOTS: Readonly<Record<string, { weight?: number; bias?: number }>> = {
  LayerNormalization: { weight: 1, bias: 2 },
  SimplifiedLayerNormalization: { weight: 1 },
  RMSNormalization: { weight: 1 },
  SkipLayerNormalization: { weight: 2, bias: 3 },
  SkipSimplifiedLayerNormalization: { weight: 2 },
};
/** Aliases created for shared initializers, at most (a hostile graph could share one tensor everywhere). */
const MAX_ALIASES = 100_000;
/** Embedding rows compared with the LM head's stored columns when checking a tie. */
const TIE_CHECK_TOKENS = 64;
/** torch.onnx names folded constants `onnx::<Op>_<n>`. */
const ANONYMOUS_NAME = /^onnx::/;
/** Weights are floats; int64 shape constants (`onnx::Reshape_7`) are plumbing whatever their name. */
const FLOAT_DTYPE = /^(?:F|BF)\d/;

/** `/model/layers.0/mlp/gate_proj/MatMul` (or its output `..._output_0`) -> `model.layers.0.mlp.gate_proj`. */
export function modulePathOfNodeName(name: string): string | undefined {
  if (!name.startsWith('/')) return undefined;
  const segments = name.split('/').slice(1, -1);
  if (segments.length === 0 || segments.some((s) => s === '')) return undefined;
  return segments.join('.');
}

function isMeaningful(role: TensorRole): boolean {
  return role.role !== 'other' || role.detail !== undefined;
}

function fitsSlot(role: TensorRole, kind: SlotKind): boolean {
  switch (kind) {
    case 'matrix':
      return MATRIX_ROLES.has(role.role);
    case 'embedding':
      return role.role === 'embed' || role.role === 'pos_embed' || role.detail === 'token_type_embed';
    case 'norm':
      return NORM_ROLES.has(role.role) || (role.role === 'other' && /norm$/.test(role.detail ?? ''));
    case 'any':
      // A bias of a real module; never a buffer such as GPT-2's `attn.bias` causal mask.
      return role.role !== 'other';
  }
}

/** A Transpose that swaps the two axes of a matrix (no perm reverses them too). */
function swapsMatrixAxes(node: OnnxNode): boolean {
  return node.perm === undefined || (node.perm.length === 2 && node.perm[0] === 1 && node.perm[1] === 0);
}

/** The parameter a node's input slot takes, or undefined when the slot says nothing about roles. */
function useOfSlot(node: OnnxNode, slot: number, info: TensorInfo, swapped: boolean): TensorUse | undefined {
  const module = modulePathOfNodeName(node.name) ?? modulePathOfNodeName(node.outputs[0] ?? '');
  if (module === undefined) return undefined;
  const rank = info.shape.length;
  const vector = rank === 1 && elementCount(info.shape) > 1;
  const flip = (layout: StoredLayout): StoredLayout => (swapped ? (layout === 'in-out' ? 'out-in' : 'in-out') : layout);
  switch (node.opType) {
    case 'MatMul':
      return slot === 1 && rank === 2 ? { module, part: 'weight', kind: 'matrix', layout: flip('in-out') } : undefined;
    case 'Gemm':
      if (slot === 1 && rank === 2) return { module, part: 'weight', kind: 'matrix', layout: flip(node.transB ? 'out-in' : 'in-out') };
      return slot === 2 && vector ? { module, part: 'bias', kind: 'any' } : undefined;
    case 'Gather':
      return slot === 0 && rank === 2 && !swapped ? { module, part: 'weight', kind: 'embedding' } : undefined;
    case 'Mul':
      return vector ? { module, part: 'weight', kind: 'norm' } : undefined;
    case 'Add':
      return vector ? { module, part: 'bias', kind: 'any' } : undefined;
    default: {
      const slots = NORM_SLOTS[node.opType];
      if (!slots || !vector) return undefined;
      if (slot === slots.weight) return { module, part: 'weight', kind: 'norm' };
      if (slot === slots.bias) return { module, part: 'bias', kind: 'norm' };
      return undefined;
    }
  }
}

/** Every use of every main-graph tensor, through at most one Transpose/Cast/Identity hop. */
function collectUses(nodes: readonly OnnxNode[], byName: ReadonlyMap<string, TensorInfo>): Map<string, TensorUse[]> {
  const uses = new Map<string, TensorUse[]>();
  const passed = new Map<string, { tensor: string; swapped: boolean }>();
  // ONNX requires nodes in topological order, so a pass-through node precedes its consumers.
  for (const node of nodes) {
    node.inputs.forEach((input, slot) => {
      if (input === '') return;
      const direct = byName.has(input) ? { tensor: input, swapped: false } : undefined;
      const source = direct ?? passed.get(input);
      if (!source) return;
      const info = byName.get(source.tensor)!;
      if (direct && slot === 0 && PASS_THROUGH_OPS.has(node.opType) && node.outputs[0]) {
        const swaps = node.opType === 'Transpose';
        if (swaps && (info.shape.length !== 2 || !swapsMatrixAxes(node))) return;
        passed.set(node.outputs[0], { tensor: source.tensor, swapped: swaps });
        return;
      }
      const use = useOfSlot(node, slot, info, source.swapped);
      if (!use) return;
      let list = uses.get(source.tensor);
      if (!list) uses.set(source.tensor, (list = []));
      list.push(use);
    });
  }
  return uses;
}

/** The same storage seen with its two axes swapped. */
function transposedView(info: TensorInfo, name: string): TensorInfo {
  const [rows, cols] = info.shape as [number, number];
  return { ...info, name, shape: [cols, rows], strides: [1, cols] };
}

/** A matrix whose stored layout differs from the layout its role's name implies is read as a view. */
function orient(info: TensorInfo, name: string, role: TensorRole, layout: StoredLayout | undefined): { tensor: TensorInfo; viewed: boolean } {
  const implied: StoredLayout = role.transposed ? 'in-out' : 'out-in';
  if (layout === undefined || info.shape.length !== 2 || !MATRIX_ROLES.has(role.role) || layout === implied) {
    return { tensor: name === info.name ? info : { ...info, name }, viewed: false };
  }
  return { tensor: transposedView(info, name), viewed: true };
}

/**
 * Names, orients and de-duplicates the tensors of an ONNX model through its graph. Graphs without
 * module paths in their node names (optimized or older exports) keep the stored names: the result
 * then equals the reader's tensors, and `notes` says which initializers stay anonymous.
 */
export async function assignOnnxGraphRoles(
  onnx: Pick<OnnxModel, 'file' | 'tensors' | 'nodes' | 'origins'>,
  options: OnnxRoleOptions,
): Promise<OnnxRoleAssignment> {
  const mainGraph = new Map<string, TensorInfo>();
  for (const t of onnx.tensors) if ((onnx.origins.get(t.name)?.graphPath ?? '') === '') mainGraph.set(t.name, t);
  const uses = collectUses(onnx.nodes, mainGraph);
  const roleOf = (name: string) => mapTensorRole(name, { family: options.family });
  const taken = new Set(onnx.tensors.map((t) => t.name));
  const result: OnnxRoleAssignment = { tensors: [], renamed: new Map(), transposedViews: [], aliases: new Map(), unresolved: [], notes: [] };
  const conflicts: string[] = [];

  let embed: TensorInfo | undefined;
  let head: { tensor: TensorInfo; stored: TensorInfo } | undefined;
  for (const info of onnx.tensors) {
    const named: NamedUse[] = [];
    for (const use of uses.get(info.name) ?? []) {
      const name = `${use.module}.${use.part}`;
      const role = roleOf(name);
      if (fitsSlot(role, use.kind)) named.push({ ...use, name, role });
    }
    const storedRole = roleOf(info.name);
    let name = info.name;
    let role = storedRole;
    let primary: NamedUse | undefined;
    if (isMeaningful(storedRole)) {
      primary = named.find((u) => u.role.role === storedRole.role && u.role.layer === storedRole.layer);
    } else if (named.length > 0) {
      primary = named[0]!;
      if (taken.has(primary.name)) {
        conflicts.push(`${info.name} -> ${primary.name}`);
        primary = undefined;
      } else {
        name = primary.name;
        role = primary.role;
        taken.add(name);
        result.renamed.set(info.name, name);
      }
    }
    if (!isMeaningful(role) && FLOAT_DTYPE.test(info.dtype) && (ANONYMOUS_NAME.test(info.name) || info.shape.length === 2)) result.unresolved.push(info.name);

    const oriented = orient(info, name, role, primary?.layout ?? named.find((u) => u.layout)?.layout);
    if (oriented.viewed) result.transposedViews.push(name);
    result.tensors.push(oriented.tensor);
    if (role.role === 'embed' && role.part === 'weight') embed ??= oriented.tensor;
    if (role.role === 'lm_head' && role.part === 'weight' && oriented.viewed) head ??= { tensor: oriented.tensor, stored: info };

    // Other modules that consume the same initializer (deduplicated equal tensors) get aliases.
    for (const use of named) {
      if (use === primary || taken.has(use.name) || result.aliases.size >= MAX_ALIASES) continue;
      // The embedding read through a Transpose by the LM head is a tie, which the original stores once.
      if (use.role.role === 'lm_head' && role.role === 'embed') continue;
      taken.add(use.name);
      const alias = orient(info, use.name, use.role, use.layout);
      if (alias.viewed) result.transposedViews.push(use.name);
      result.aliases.set(use.name, info.name);
      result.tensors.push(alias.tensor);
    }
  }

  if (embed && head && (await isTiedHead(embed, head.stored, options.openSource))) {
    result.tiedHead = head.stored.name;
    result.tensors = result.tensors.filter((t) => t !== head!.tensor);
  }
  const file = path.basename(onnx.file);
  if (result.unresolved.length > 0) {
    const examples = result.unresolved.slice(0, 3).join(', ');
    const why = onnx.nodes.length === 0 ? 'the file has no graph nodes' : 'their consumer nodes carry no module path (node names such as /model/layers.0/mlp/gate_proj/MatMul)';
    result.notes.push(`${file}: ${result.unresolved.length} initializer(s) (${examples}${result.unresolved.length > 3 ? ', ...' : ''}) keep anonymous names because ${why}; their roles are unknown, so tests that need them may not run`);
  }
  if (conflicts.length > 0) {
    result.notes.push(`${file}: ${conflicts.length} initializer(s) were not renamed because the name their node implies is taken (${conflicts.slice(0, 3).join('; ')})`);
  }
  return result;
}

/**
 * Is the LM head (stored [hidden, vocab]) the embedding [vocab, hidden] transposed? Compared exactly on
 * three stored hidden rows against the same entries of up to 64 embedding rows: a few KB of reads.
 */
async function isTiedHead(embed: TensorInfo, storedHead: TensorInfo, openSource: SourceOpener): Promise<boolean> {
  const [vocab, hidden] = embed.shape as [number, number];
  if (embed.shape.length !== 2 || storedHead.shape[0] !== hidden || storedHead.shape[1] !== vocab || embed.dtype !== storedHead.dtype) return false;
  if (embed.file === storedHead.file && embed.dataOffset === storedHead.dataOffset) return true;
  const probe = { ...storedHead, name: '\0head', strides: undefined };
  const store = new TensorStore([{ ...embed, name: '\0embed', strides: undefined }, probe], openSource);
  try {
    const hiddenRows = [...new Set([0, Math.floor(hidden / 2), hidden - 1])];
    const tokenCount = Math.min(TIE_CHECK_TOKENS, vocab);
    const tokens = [...new Set(Array.from({ length: tokenCount }, (_, i) => Math.floor((i * vocab) / tokenCount)))];
    const headRows = await store.readRowSet('\0head', hiddenRows);
    const embedRows = await store.readRowSet('\0embed', tokens);
    for (let r = 0; r < hiddenRows.length; r++) {
      for (let k = 0; k < tokens.length; k++) {
        const a = headRows[r * vocab + tokens[k]!]!;
        const b = embedRows[k * hidden + hiddenRows[r]!]!;
        if (!Object.is(a, b)) return false;
      }
    }
    return true;
  } finally {
    await store.close();
  }
}
