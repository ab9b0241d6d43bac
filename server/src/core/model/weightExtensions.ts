// Which file names hold weights, by extension: shared by the model opener and the checks of Hub file
// lists (which see names only). A tiny module so the language server's main thread can import it.

/** File extensions read as PyTorch pickle checkpoints. */
export const PICKLE_EXTENSIONS: ReadonlySet<string> = new Set(['.bin', '.pt', '.pth', '.ckpt', '.pkl', '.pickle', '.jit']);
