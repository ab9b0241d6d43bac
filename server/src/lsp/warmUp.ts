// Start-up warm-up of the diagnostics path: one analysis of a representative, large Python document
// before any real one, so the first file a user opens is not the one that pays the one-time costs.
import { computeDiagnostics } from './features/diagnostics';
import { analyzeDocument, type AnalysisContext } from '../analysis/documentAnalysis';
import { DEFAULT_SETTINGS } from './settings';

/**
 * One unit of an ordinary training script. It touches the grammar rules and finder paths real code
 * does (classes, defaults, dicts, subscripts, f-strings, env lookups, comments with links, pipeline):
 * a warm-up that only repeats one loader call leaves most of them cold.
 */
const REPRESENTATIVE_UNIT = [
  'import argparse, os',
  'from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline',
  'BASE = os.getenv("LINEAGE_WARM_UP_MODEL", "lineage-lens/warm-up-base")',
  '',
  'class Trainer:',
  '    def __init__(self, name="lineage-lens/warm-up-model", lr=3e-5, steps=(1, 2, 3)):',
  '        self.model = AutoModelForCausalLM.from_pretrained(name, revision="main", trust_remote_code=False)',
  '        self.tokenizer = AutoTokenizer.from_pretrained(BASE)',
  '        self.config = {"lr": lr, "steps": list(steps), "tag": f"{name}-ft", "scale": lr * 2 ** 3}',
  '',
  '    def step(self, batch, scale=2):',
  '        losses = [x * scale for x in batch["x"] if x is not None]',
  '        return {"loss": sum(losses) / max(len(losses), 1), "skip": not batch.get("skip", False)}',
  '',
  'classifier = pipeline("text-classification", model="lineage-lens/warm-up-classifier")  # https://huggingface.co/lineage-lens/warm-up-classifier',
  '',
].join('\n');

/** About 500 lines, parsed in one synchronous step of some 30 ms once warm. */
export const WARM_UP_DOCUMENT = REPRESENTATIVE_UNIT.repeat(38);

/**
 * V8 optimises the parser's wasm and the finder's JavaScript only after they have run for a while:
 * one 200-line parse left the first 2,000-line file 40% slower than the next (bench:lsp), four
 * 500-line rounds bring it to the steady state.
 */
const WARM_UP_ROUNDS = 8;

/** How often a paused warm-up checks whether the documents being analysed got their diagnostics. */
const BUSY_POLL_MS = 20;

/**
 * Finds, resolves (a job in the light worker, which also warms it) and diagnoses the warm-up document
 * without fingerprinting or publishing anything. The ids resolve to nothing in any cache.
 * `isBusy` tells whether a real document is waiting for diagnostics: rounds wait for those.
 */
export async function warmUpDiagnostics(context: AnalysisContext, isBusy: () => boolean): Promise<void> {
  for (let round = 0; round < WARM_UP_ROUNDS; round++) {
    // Parsing blocks the thread: between rounds the server reads its messages, and a document opened
    // during the warm-up waits for one round at most before it goes first.
    await new Promise((resolve) => setImmediate(resolve));
    while (isBusy()) await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
    const analysis = await analyzeDocument({ uri: 'untitled:lineage-warm-up.py', version: round, text: WARM_UP_DOCUMENT }, { ...context, stopAfterResolution: true });
    computeDiagnostics(analysis, DEFAULT_SETTINGS, undefined);
  }
}
