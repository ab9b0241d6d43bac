// Shared result types of the reference finders: one ModelReferenceSite per place in a document
// that names a model, dataset or adapter, with exact LSP ranges for diagnostics and quick fixes.
import type { ModelReference } from '../core/model/reference';

export type { ModelReference };

/** 0-based LSP position; `character` counts UTF-16 code units, like JavaScript string indices. */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type ReferenceKind = 'model' | 'dataset' | 'adapter' | 'base-model-claim';

export interface RevisionSite {
  /** The revision as written, or the expression text when `dynamic` is set. */
  value: string;
  range: Range;
  /** The revision comes from a variable or expression that could not be resolved in the file. */
  dynamic?: boolean;
}

export interface ReferenceFlags {
  trustRemoteCode?: boolean;
  /** Range of the whole `trust_remote_code=True` / `--trust-remote-code` / `trust_remote_code: true` text. */
  trustRemoteCodeRange?: Range;
  useSafetensors?: boolean;
  /** `pipeline('task')` with no model: the library picks a hidden default model. */
  implicitDefault?: boolean;
  /** The id is only partly known (f-string or environment variable without a default). */
  dynamic?: boolean;
}

/**
 * Where a quick fix can add an argument (`revision="..."`, `use_safetensors=True`, `--revision X`).
 * `needsComma` says whether the inserted text must start with ", ".
 */
export interface ArgumentInsertion {
  position: Position;
  needsComma: boolean;
  /**
   * python-keyword: insert `revision="sha"`;
   * js-options-property: insert `revision: 'sha'` into the existing options object;
   * js-options-object: insert a new `{ revision: 'sha' }` argument;
   * cli-flag: insert ` --revision sha`.
   */
  style: 'python-keyword' | 'js-options-property' | 'js-options-object' | 'cli-flag';
}

export interface ModelReferenceSite {
  /**
   * The id as written (e.g. 'meta-llama/Llama-3.1-8B'). Equals the document text at `range`,
   * except when a string literal spells it with escape sequences (then it is the decoded value)
   * or an f-string interpolates constants (then it is the resolved value).
   */
  id: string;
  /** Parsed and normalised id; undefined when the value is dynamic or not a valid reference. */
  reference?: ModelReference;
  /** Exact range of the id text inside its string literal, quotes excluded. */
  range: Range;
  revision?: RevisionSite;
  /** Which call, key or command names the model, e.g. 'AutoModelForCausalLM.from_pretrained'. */
  loader: string;
  kind: ReferenceKind;
  flags: ReferenceFlags;
  /** File inside the repository (hf_hub_download / Llama.from_pretrained `filename=`). */
  file?: string;
  /** GGUF quantisation selector (`org/repo-GGUF:Q4_K_M`); not a revision. */
  quant?: string;
  insertion?: ArgumentInsertion;
  /** Pipeline task (`pipeline('text-generation', ...)`). */
  task?: string;
  /** Environment variable the id is read from (`os.getenv("MODEL_ID", "org/m")`). */
  envVar?: string;
  /** Where the id is used when the value came through a constant or variable (the call argument). */
  usageRange?: Range;
}
