// Layout differences between llama.cpp GGUF files and Hugging Face checkpoints of the same weights.
// convert_hf_to_gguf.py stores Llama q/k rows in Meta's interleaved RoPE order; we read them back in HF order.
import type { ArchitectureTuple } from './config';
import type { Role } from './roles';

/** GGUF architectures whose q/k rows llama.cpp's converter permutes (LlamaModel.permute). */
const ROPE_PERMUTED_ARCHITECTURES = new Set(['llama']);

/**
 * For a GGUF q/k matrix of a RoPE-permuted architecture: maps a Hugging Face row index to the stored
 * row. HF row h*hd + s*(hd/2) + j is stored at h*hd + 2*j + s (reshape(n_head, 2, hd/2).swapaxes(1, 2)).
 * Undefined when no permutation applies.
 */
export function ggufStoredRowOf(role: Role, rows: number, architecture: ArchitectureTuple | undefined): ((hfRow: number) => number) | undefined {
  if (!architecture || !ROPE_PERMUTED_ARCHITECTURES.has(architecture.family)) return undefined;
  const heads = role === 'q' ? architecture.heads : role === 'k' ? architecture.kvHeads || architecture.heads : 0;
  if (!heads || rows % heads !== 0) return undefined;
  const headDim = rows / heads;
  if (headDim % 2 !== 0) return undefined;
  const half = headDim / 2;
  return (hfRow: number) => {
    const head = Math.floor(hfRow / headDim);
    const within = hfRow % headDim;
    const s = Math.floor(within / half);
    const j = within % half;
    return head * headDim + 2 * j + s;
  };
}
