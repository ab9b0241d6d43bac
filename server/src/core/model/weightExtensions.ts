// Which file names hold weights, by extension: the one list for the model opener, the resolver, the
// checks of Hub file lists (which see names only) and the reference finders. A tiny module so the
// language server's main thread can import it.

/** File extensions read as PyTorch pickle checkpoints. */
export const PICKLE_EXTENSIONS: ReadonlySet<string> = new Set(['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle', '.jit']);

/** Every weight file extension the engine reads (safetensors, GGUF, ONNX and the pickles). */
export const WEIGHT_EXTENSIONS: ReadonlySet<string> = new Set(['.safetensors', '.gguf', '.onnx', ...PICKLE_EXTENSIONS]);

/** Weight formats of other frameworks: recognised as model files in references, not read. */
export const FOREIGN_WEIGHT_EXTENSIONS: ReadonlySet<string> = new Set(['.h5', '.msgpack', '.tflite', '.mlmodel', '.npz']);

function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot < 0 ? '' : name.slice(dot).toLowerCase();
}

/** A file the engine reads as weights (an index.json of shards is not one). */
export function isWeightFileName(name: string): boolean {
  return WEIGHT_EXTENSIONS.has(extensionOf(name));
}

/** Any model weight file, including formats the engine does not read. */
export function isAnyWeightFileName(name: string): boolean {
  const extension = extensionOf(name);
  return WEIGHT_EXTENSIONS.has(extension) || FOREIGN_WEIGHT_EXTENSIONS.has(extension);
}
