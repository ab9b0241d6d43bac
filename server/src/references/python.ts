// Finds model, adapter and dataset references in Python source with a real parser (tree-sitter),
// resolving ids through module and function constants, parameter and argparse defaults, env defaults and f-strings.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { parseCandidate } from './candidates';
import type { LineIndex } from './textPositions';
import type { ModelReference, ModelReferenceSite, Range, ReferenceKind, RevisionSite } from './types';
import { appendAll } from '../core/util/arrays';

const PYTHON_WASM = 'tree-sitter-python.wasm';
const RUNTIME_WASM = 'tree-sitter.wasm';

let parserReady: Promise<Parser> | undefined;

/**
 * Loads the parser once. `wasmDir` is a folder holding both `tree-sitter.wasm` and
 * `tree-sitter-python.wasm` (the bundled server copies them next to dist/); without it the files
 * are resolved from node_modules. Calling it again with a folder reloads from that folder.
 */
export function initPythonParser(wasmDir?: string): Promise<void> {
  if (wasmDir !== undefined || !parserReady) {
    const loading = loadParser(wasmDir);
    // A failed load must not poison later attempts (the folder may appear after a rebuild).
    loading.catch(() => { if (parserReady === loading) parserReady = undefined; });
    parserReady = loading;
  }
  return parserReady.then(() => undefined);
}

async function loadParser(wasmDir: string | undefined): Promise<Parser> {
  const runtimeWasm = wasmDir ? path.join(wasmDir, RUNTIME_WASM) : require.resolve(`web-tree-sitter/${RUNTIME_WASM}`);
  const pythonWasm = wasmDir ? path.join(wasmDir, PYTHON_WASM) : require.resolve(`tree-sitter-python/${PYTHON_WASM}`);
  // web-tree-sitter types its option bag as the global EmscriptenModule, which @types/emscripten (pulled in
  // by sql.js) makes strict; only locateFile is read.
  type InitOptions = NonNullable<Parameters<typeof Parser.init>[0]>;
  const options: Partial<InitOptions> = { locateFile: () => runtimeWasm };
  await Parser.init(options as InitOptions);
  const language = await Language.load(new Uint8Array(readFileSync(pythonWasm)));
  const parser = new Parser();
  parser.setLanguage(language);
  return parser;
}

export async function findPythonReferences(text: string, lines: LineIndex): Promise<ModelReferenceSite[]> {
  if (!parserReady) void initPythonParser();
  const parser = await (parserReady as Promise<Parser>);
  // Parsing is synchronous, so one parser instance can serve every document in turn.
  const tree = parser.parse(text);
  if (!tree) return [];
  try {
    return new PythonReferenceExtractor(tree.rootNode, lines).extract();
  } finally {
    tree.delete();
  }
}

/** A value an expression evaluates to, as far as the file itself tells. */
type ResolvedValue =
  | { kind: 'string'; value: string; startOffset: number; endOffset: number; envVar?: string; partial?: boolean }
  | { kind: 'bool'; value: boolean }
  /** An object, number or other non-string value (e.g. a model instance passed to `pipeline(model=...)`). */
  | { kind: 'object' }
  /** Unknown at analysis time: a parameter without default, an attribute, an env var without default. */
  | { kind: 'dynamic'; text: string; startOffset: number; endOffset: number; envVar?: string };

interface LoaderMatch {
  loader: string;
  kind: ReferenceKind;
  /** Position of the id among positional arguments, and the keyword names that carry it. */
  idPosition: number;
  idKeywords: string[];
  filePosition?: number;
  /** sentence-transformers prefixes bare names with its own organisation. */
  sentenceTransformers?: boolean;
  pipeline?: boolean;
  /** The argument is a file path, never a Hub id (`Llama(model_path=...)`, `torch.load(...)`). */
  pathOnly?: boolean;
}

const MAX_RESOLVE_DEPTH = 8;
const ENV_GETTERS = new Set(['os.getenv', 'getenv', 'os.environ.get', 'environ.get']);
/** Names sentence-transformers loads from their legacy top-level repos instead of `sentence-transformers/`. */
const BARE_TRANSFORMER_FAMILIES = /^(?:albert|bert|camembert|ctrl|distilbert|distilgpt2|distilroberta|gpt2|openai-gpt|roberta|t5|transfo-xl|xlm|xlnet)(?:-|$)/;

class PythonReferenceExtractor {
  private readonly assignmentsByScope = new Map<number, Map<string, Node[]>>();
  private argparseDefaults: Map<string, Node> | undefined;

  constructor(private readonly root: Node, private readonly lines: LineIndex) {}

  extract(): ModelReferenceSite[] {
    const sites: ModelReferenceSite[] = [];
    for (const call of this.root.descendantsOfType('call')) {
      if (call) appendAll(sites, this.sitesForCall(call));
    }
    return sites;
  }

  private sitesForCall(call: Node): ModelReferenceSite[] {
    const callee = call.childForFieldName('function');
    const argumentList = call.childForFieldName('arguments');
    if (!callee || argumentList?.type !== 'argument_list') return [];
    const match = matchLoader(dottedName(callee));
    if (!match) return [];
    const args = new CallArguments(argumentList);
    const site = match.pipeline ? this.pipelineSite(call, args) : this.loaderSite(match, args);
    if (!site) return [];
    this.addCommonKeywords(site, args);
    return [site];
  }

  private loaderSite(match: LoaderMatch, args: CallArguments): ModelReferenceSite | undefined {
    const idNode = args.find(match.idPosition, match.idKeywords);
    if (!idNode) return undefined;
    const value = this.resolve(idNode, 0);
    let kind = match.kind;
    const repoType = args.find(-1, ['repo_type']);
    const repoTypeValue = repoType ? this.resolve(repoType, 0) : undefined;
    if (repoTypeValue?.kind === 'string' && repoTypeValue.value === 'dataset') kind = 'dataset';
    const site = this.siteFromValue(value, idNode, match.loader, kind, match.sentenceTransformers ?? false);
    if (!site) return undefined;
    if (match.pathOnly && site.reference) site.reference = localPathReference(site.id);
    const fileNode = match.filePosition === undefined ? undefined : args.find(match.filePosition, ['filename']);
    const file = fileNode ? this.resolve(fileNode, 0) : undefined;
    if (file?.kind === 'string') site.file = file.value;
    return site;
  }

  /** `pipeline(task, model)`: with no model the library picks a default model for the task. */
  private pipelineSite(call: Node, args: CallArguments): ModelReferenceSite | undefined {
    const taskNode = args.find(0, ['task']);
    const task = taskNode ? this.resolve(taskNode, 0) : undefined;
    const modelNode = args.find(1, ['model']);
    let site: ModelReferenceSite | undefined;
    if (modelNode) {
      site = this.siteFromValue(this.resolve(modelNode, 0), modelNode, 'pipeline', 'model', false);
      if (!site) return undefined;
    } else {
      // The site sits on the task string (or the call name) so that a diagnostic has somewhere to go.
      const anchor = task?.kind === 'string' ? this.lines.rangeOf(task.startOffset, task.endOffset) : this.nodeRange(call.childForFieldName('function') ?? call);
      site = { id: '', range: anchor, loader: 'pipeline', kind: 'model', flags: { implicitDefault: true } };
    }
    if (task?.kind === 'string') site.task = task.value;
    return site;
  }

  private siteFromValue(value: ResolvedValue, argument: Node, loader: string, kind: ReferenceKind, sentenceTransformers: boolean): ModelReferenceSite | undefined {
    if (value.kind === 'bool' || value.kind === 'object') return undefined;
    const range = this.lines.rangeOf(value.startOffset, value.endOffset);
    const site: ModelReferenceSite = { id: value.kind === 'string' ? value.value : value.text, range, loader, kind, flags: {} };
    if (value.envVar !== undefined) site.envVar = value.envVar;
    if (value.startOffset !== argument.startIndex || value.endOffset !== argument.endIndex) {
      const usage = this.nodeRange(argument);
      if (!containsRange(usage, range)) site.usageRange = usage;
    }
    if (value.kind === 'dynamic' || value.partial) {
      site.flags.dynamic = true;
      return site;
    }
    const reference = parseCandidate(sentenceTransformers ? sentenceTransformersRepo(value.value) : value.value);
    if (reference) site.reference = kind === 'dataset' ? asDataset(reference) : reference;
    return site;
  }

  private addCommonKeywords(site: ModelReferenceSite, args: CallArguments): void {
    const revisionNode = args.keyword('revision');
    if (revisionNode) {
      const revision = this.resolve(revisionNode, 0);
      if (revision.kind === 'string' && !revision.partial) site.revision = { value: revision.value, range: this.lines.rangeOf(revision.startOffset, revision.endOffset) };
      else if (revision.kind !== 'bool' && revision.kind !== 'object') site.revision = this.dynamicRevision(revisionNode);
    }
    const trustNode = args.keyword('trust_remote_code');
    if (trustNode) {
      const trust = this.resolve(trustNode, 0);
      if (trust.kind === 'bool' || trust.kind === 'dynamic') {
        // An unresolved value may be True at run time; the check must treat it as enabled.
        site.flags.trustRemoteCode = trust.kind === 'dynamic' ? true : trust.value;
        site.flags.trustRemoteCodeRange = this.nodeRange(trustNode.parent ?? trustNode);
      }
    }
    const safetensorsNode = args.keyword('use_safetensors');
    const safetensors = safetensorsNode ? this.resolve(safetensorsNode, 0) : undefined;
    if (safetensors?.kind === 'bool') site.flags.useSafetensors = safetensors.value;
    site.insertion = args.insertion(this.lines);
  }

  private dynamicRevision(node: Node): RevisionSite {
    return { value: node.text, range: this.nodeRange(node), dynamic: true };
  }

  private resolve(node: Node, depth: number): ResolvedValue {
    if (depth > MAX_RESOLVE_DEPTH) return this.dynamic(node);
    switch (node.type) {
      case 'string':
        return this.resolveString(node, depth);
      case 'concatenated_string':
        return this.resolveConcatenation(node.namedChildren.filter(isNode), node, depth);
      case 'true':
        return { kind: 'bool', value: true };
      case 'false':
        return { kind: 'bool', value: false };
      case 'parenthesized_expression': {
        const inner = node.namedChildren.find((child) => child?.type !== 'comment');
        return inner ? this.resolve(inner, depth + 1) : this.dynamic(node);
      }
      case 'identifier':
        return this.resolveIdentifier(node, depth);
      case 'attribute':
        return this.resolveAttribute(node, depth);
      case 'call':
        return this.resolveCall(node, depth);
      case 'subscript':
        return this.resolveSubscript(node);
      case 'binary_operator': {
        const left = node.childForFieldName('left');
        const right = node.childForFieldName('right');
        if (node.childForFieldName('operator')?.type === '+' && left && right) return this.resolveConcatenation([left, right], node, depth);
        return { kind: 'object' };
      }
      case 'integer': case 'float': case 'list': case 'dictionary': case 'tuple': case 'set': case 'none': case 'lambda':
        return { kind: 'object' };
      default:
        return this.dynamic(node);
    }
  }

  private dynamic(node: Node, envVar?: string): ResolvedValue {
    const value: ResolvedValue = { kind: 'dynamic', text: node.text, startOffset: node.startIndex, endOffset: node.endIndex };
    if (envVar !== undefined) value.envVar = envVar;
    return value;
  }

  private resolveString(node: Node, depth: number): ResolvedValue {
    const start = node.children.find((child) => child?.type === 'string_start');
    const end = node.children.find((child) => child?.type === 'string_end');
    if (!start || !end) return this.dynamic(node);
    const prefix = start.text.replace(/["']+$/, '').toLowerCase();
    if (prefix.includes('b')) return { kind: 'object' };
    const contentStart = start.endIndex;
    const contentEnd = end.startIndex;
    if (!prefix.includes('f')) {
      const raw = node.text.slice(contentStart - node.startIndex, contentEnd - node.startIndex);
      return { kind: 'string', value: prefix.includes('r') ? raw : decodePythonEscapes(raw), startOffset: contentStart, endOffset: contentEnd };
    }
    // f-string: substitute interpolations that resolve to strings; otherwise keep `{expr}` and mark partial.
    let value = '';
    let partial = false;
    let literalStart = -1;
    let literalEnd = -1;
    for (const child of node.children) {
      if (!child) continue;
      if (child.type === 'string_content') {
        value += child.text;
        if (literalStart === -1) literalStart = child.startIndex;
        literalEnd = child.endIndex;
      } else if (child.type === 'interpolation') {
        const expression = child.childForFieldName('expression') ?? child.namedChildren.find(isNode);
        const resolved = expression && !child.childForFieldName('format_specifier') ? this.resolve(expression, depth + 1) : undefined;
        if (resolved?.kind === 'string' && !resolved.partial) value += resolved.value;
        else {
          value += child.text;
          partial = true;
        }
      }
    }
    if (!partial || literalStart === -1) return { kind: 'string', value, startOffset: contentStart, endOffset: contentEnd, partial };
    return { kind: 'string', value, startOffset: literalStart, endOffset: literalEnd, partial };
  }

  private resolveConcatenation(parts: Node[], whole: Node, depth: number): ResolvedValue {
    let value = '';
    let startOffset = -1;
    let endOffset = -1;
    let partial = false;
    for (const part of parts) {
      if (part.type === 'comment') continue;
      const resolved = this.resolve(part, depth + 1);
      if (resolved.kind !== 'string') return resolved.kind === 'dynamic' ? this.dynamic(whole) : { kind: 'object' };
      value += resolved.value;
      partial ||= resolved.partial ?? false;
      if (startOffset === -1) startOffset = resolved.startOffset;
      endOffset = resolved.endOffset;
    }
    if (startOffset === -1) return this.dynamic(whole);
    // A constant part pulled from elsewhere in the file makes the span meaningless: point at the expression.
    if (startOffset < whole.startIndex || endOffset > whole.endIndex) return { kind: 'string', value, startOffset: whole.startIndex, endOffset: whole.endIndex, partial };
    return { kind: 'string', value, startOffset, endOffset, partial };
  }

  private resolveIdentifier(node: Node, depth: number): ResolvedValue {
    const name = node.text;
    for (let scope: Node | null = enclosingScope(node); scope; scope = scope.type === 'module' ? null : enclosingScope(scope)) {
      const candidates = this.assignmentsIn(scope).get(name);
      if (!candidates) continue;
      // A name bound more than once could hold any of its values: treat it as unknown.
      if (candidates.length !== 1 || !candidates[0]) return this.dynamic(node);
      return this.resolve(candidates[0], depth + 1);
    }
    return this.dynamic(node);
  }

  /** `args.model` resolves to the `default=` of `parser.add_argument("--model", default=...)`. */
  private resolveAttribute(node: Node, depth: number): ResolvedValue {
    const attribute = node.childForFieldName('attribute')?.text;
    const defaultNode = attribute === undefined ? undefined : this.argparseDefaultsByDest().get(attribute);
    return defaultNode ? this.resolve(defaultNode, depth + 1) : this.dynamic(node);
  }

  private resolveCall(node: Node, depth: number): ResolvedValue {
    const callee = node.childForFieldName('function');
    const argumentList = node.childForFieldName('arguments');
    if (!callee || argumentList?.type !== 'argument_list' || !ENV_GETTERS.has(dottedName(callee))) return { kind: 'object' };
    const args = new CallArguments(argumentList);
    const nameNode = args.find(0, ['key']);
    const name = nameNode ? this.resolve(nameNode, depth + 1) : undefined;
    const envVar = name?.kind === 'string' ? name.value : undefined;
    const defaultNode = args.find(1, ['default']);
    if (!defaultNode) return this.dynamic(node, envVar);
    const resolved = this.resolve(defaultNode, depth + 1);
    if (resolved.kind === 'string' && envVar !== undefined) return { ...resolved, envVar };
    return resolved;
  }

  /** `os.environ["X"]` has no default: dynamic, but the variable name is worth showing. */
  private resolveSubscript(node: Node): ResolvedValue {
    const value = node.childForFieldName('value');
    const key = node.childForFieldName('subscript');
    if (value && dottedName(value).endsWith('environ') && key?.type === 'string') {
      const name = this.resolve(key, MAX_RESOLVE_DEPTH);
      return this.dynamic(node, name.kind === 'string' ? name.value : undefined);
    }
    return this.dynamic(node);
  }

  /** Right-hand sides (and parameter defaults) bound to each name directly in a module or function scope. */
  private assignmentsIn(scope: Node): Map<string, Node[]> {
    const cached = this.assignmentsByScope.get(scope.id);
    if (cached) return cached;
    const bindings = new Map<string, Node[]>();
    const bind = (name: string, value: Node): void => {
      const list = bindings.get(name) ?? [];
      list.push(value);
      bindings.set(name, list);
    };
    for (const assignment of scope.descendantsOfType(['assignment', 'augmented_assignment', 'for_statement', 'named_expression'])) {
      if (!assignment || enclosingScope(assignment)?.id !== scope.id) continue;
      const left = assignment.childForFieldName(assignment.type === 'named_expression' ? 'name' : 'left');
      const right = assignment.childForFieldName(assignment.type === 'named_expression' ? 'value' : 'right');
      if (left?.type !== 'identifier') continue;
      // A loop variable or `x += ...` is rebound at run time; binding it twice marks it unknown.
      const rebinds = assignment.type === 'for_statement' || assignment.type === 'augmented_assignment';
      if (right) bind(left.text, right.type === 'assignment' ? right.childForFieldName('right') ?? right : right);
      if (rebinds && right) bind(left.text, right);
    }
    if (scope.type === 'function_definition') {
      for (const parameter of scope.childForFieldName('parameters')?.namedChildren ?? []) {
        if (parameter?.type !== 'default_parameter' && parameter?.type !== 'typed_default_parameter') continue;
        const name = parameter.childForFieldName('name');
        const value = parameter.childForFieldName('value');
        if (name?.type === 'identifier' && value) bind(name.text, value);
      }
    }
    this.assignmentsByScope.set(scope.id, bindings);
    return bindings;
  }

  private argparseDefaultsByDest(): Map<string, Node> {
    if (this.argparseDefaults) return this.argparseDefaults;
    const defaults = new Map<string, Node>();
    for (const call of this.root.descendantsOfType('call')) {
      const callee = call?.childForFieldName('function');
      const argumentList = call?.childForFieldName('arguments');
      if (!callee || !dottedName(callee).endsWith('add_argument') || argumentList?.type !== 'argument_list') continue;
      const args = new CallArguments(argumentList);
      const defaultNode = args.keyword('default');
      if (!defaultNode) continue;
      const explicitDest = args.keyword('dest');
      const flags = args.positional().filter((node) => node.type === 'string').map((node) => node.text.replace(/^[a-zA-Z]*["']+|["']+$/g, ''));
      const longFlag = flags.find((flag) => flag.startsWith('--')) ?? flags[0];
      const dest = explicitDest?.type === 'string' ? explicitDest.text.replace(/^["']+|["']+$/g, '') : longFlag?.replace(/^-+/, '').replace(/-/g, '_');
      if (dest) defaults.set(dest, defaultNode);
    }
    this.argparseDefaults = defaults;
    return defaults;
  }

  private nodeRange(node: Node): Range {
    return this.lines.rangeOf(node.startIndex, node.endIndex);
  }
}

/** Positional and keyword arguments of one call. */
class CallArguments {
  private readonly positionalArgs: Node[] = [];
  private readonly keywords = new Map<string, Node>();
  private readonly all: Node[] = [];

  constructor(private readonly argumentList: Node) {
    let positionalKnown = true;
    for (const child of argumentList.namedChildren) {
      if (!child || child.type === 'comment') continue;
      this.all.push(child);
      if (child.type === 'keyword_argument') {
        const name = child.childForFieldName('name')?.text;
        const value = child.childForFieldName('value');
        if (name !== undefined && value) this.keywords.set(name, value);
      } else if (child.type === 'list_splat' || child.type === 'dictionary_splat') {
        // After `*args` the index of the following positional arguments is unknown.
        if (child.type === 'list_splat') positionalKnown = false;
      } else if (positionalKnown) {
        this.positionalArgs.push(child);
      }
    }
  }

  /** The argument at a positional index (-1 for keyword-only), or under any of the keyword names. */
  find(position: number, keywords: string[]): Node | undefined {
    for (const keyword of keywords) {
      const value = this.keywords.get(keyword);
      if (value) return value;
    }
    return position >= 0 ? this.positionalArgs[position] : undefined;
  }

  keyword(name: string): Node | undefined {
    return this.keywords.get(name);
  }

  positional(): Node[] {
    return this.positionalArgs;
  }

  /** After the last argument (`, revision=...`), or just inside `(` for an empty call. */
  insertion(lines: LineIndex): ModelReferenceSite['insertion'] {
    const last = this.all.at(-1);
    if (last) return { position: lines.positionAt(last.endIndex), needsComma: true, style: 'python-keyword' };
    return { position: lines.positionAt(this.argumentList.startIndex + 1), needsComma: false, style: 'python-keyword' };
  }
}

/** `transformers.AutoModel.from_pretrained` -> the dotted source text without whitespace or comments. */
function dottedName(node: Node): string {
  if (node.type === 'identifier') return node.text;
  if (node.type === 'attribute') {
    const object = node.childForFieldName('object');
    const attribute = node.childForFieldName('attribute')?.text ?? '';
    return object ? `${dottedName(object)}.${attribute}` : attribute;
  }
  if (node.type === 'call') {
    // `HfApi().model_info` style chains keep the callee name without its arguments.
    const callee = node.childForFieldName('function');
    return callee ? `${dottedName(callee)}()` : '';
  }
  return '';
}

/** Which loader a callee names, by its last one or two dotted segments. */
function matchLoader(name: string): LoaderMatch | undefined {
  const segments = name.split('.');
  const method = segments.at(-1) ?? '';
  const receiver = segments.at(-2) ?? '';
  const qualified = receiver ? `${receiver}.${method}` : method;
  const standalone = segments.length === 1 || ['transformers', 'huggingface_hub', 'datasets', 'sentence_transformers', 'vllm', 'peft', 'diffusers', 'cross_encoder'].includes(receiver);
  if (method === 'from_pretrained' && /^[A-Z]/.test(receiver)) {
    if (receiver === 'Llama') return { loader: qualified, kind: 'model', idPosition: 0, idKeywords: ['repo_id'], filePosition: 1 };
    if (/^PeftModel/.test(receiver) || /^PeftMixedModel/.test(receiver)) return { loader: qualified, kind: 'adapter', idPosition: 1, idKeywords: ['model_id'] };
    if (/^AutoPeftModel/.test(receiver)) return { loader: qualified, kind: 'adapter', idPosition: 0, idKeywords: ['pretrained_model_name_or_path'] };
    return { loader: qualified, kind: 'model', idPosition: 0, idKeywords: ['pretrained_model_name_or_path'] };
  }
  // Local weight files: llama-cpp-python, PyTorch checkpoints, safetensors, ONNX Runtime.
  if (method === 'Llama' && (segments.length === 1 || receiver === 'llama_cpp')) return { loader: qualified, kind: 'model', idPosition: 0, idKeywords: ['model_path'], pathOnly: true };
  if (method === 'load' && receiver === 'torch') return { loader: qualified, kind: 'model', idPosition: 0, idKeywords: ['f'], pathOnly: true };
  if (method === 'load_file' && (segments.length === 1 || (receiver === 'torch' && segments.at(-3) === 'safetensors') || receiver === 'safetensors')) return { loader: 'safetensors.load_file', kind: 'model', idPosition: 0, idKeywords: ['filename'], pathOnly: true };
  if (method === 'safe_open' && (segments.length === 1 || receiver === 'safetensors')) return { loader: 'safe_open', kind: 'model', idPosition: 0, idKeywords: ['filename'], pathOnly: true };
  if (method === 'InferenceSession') return { loader: 'onnxruntime.InferenceSession', kind: 'model', idPosition: 0, idKeywords: ['path_or_bytes'], pathOnly: true };
  if (method === 'from_single_file' && /^[A-Z]/.test(receiver)) return { loader: qualified, kind: 'model', idPosition: 0, idKeywords: ['pretrained_model_link_or_path'] };
  if ((method === 'load_adapter' || method === 'load_lora_weights') && segments.length > 1) {
    return { loader: method, kind: 'adapter', idPosition: 0, idKeywords: ['pretrained_model_name_or_path_or_dict', 'peft_model_id', 'pretrained_model_name_or_path'] };
  }
  if (!standalone) return undefined;
  switch (method) {
    case 'pipeline':
      return { loader: 'pipeline', kind: 'model', idPosition: 1, idKeywords: ['model'], pipeline: true };
    case 'SentenceTransformer': case 'CrossEncoder': case 'SparseEncoder':
      return { loader: method, kind: 'model', idPosition: 0, idKeywords: ['model_name_or_path', 'model_name'], sentenceTransformers: true };
    case 'hf_hub_download':
      return { loader: method, kind: 'model', idPosition: 0, idKeywords: ['repo_id'], filePosition: 1 };
    case 'snapshot_download':
      return { loader: method, kind: 'model', idPosition: 0, idKeywords: ['repo_id'] };
    case 'LLM':
      return { loader: 'LLM', kind: 'model', idPosition: 0, idKeywords: ['model'] };
    case 'load_dataset':
      return { loader: method, kind: 'dataset', idPosition: 0, idKeywords: ['path'] };
    default:
      return undefined;
  }
}

/** A path-only loader's argument: `models/x.gguf` is a file here, whatever the Hub's id grammar allows. */
function localPathReference(value: string): ModelReference {
  return { kind: 'local', path: value.trim() };
}

function sentenceTransformersRepo(name: string): string {
  if (name.includes('/') || BARE_TRANSFORMER_FAMILIES.test(name) || name.startsWith('.') || name.includes('\\')) return name;
  return `sentence-transformers/${name}`;
}

function asDataset(reference: ModelReference): ModelReference {
  return reference.kind === 'hub' ? { ...reference, repoType: 'dataset' } : reference;
}

/** The innermost function or module around a node; class bodies are not scopes for bare names. */
function enclosingScope(node: Node): Node | null {
  for (let current = node.parent; current; current = current.parent) {
    if (current.type === 'function_definition' || current.type === 'module') return current;
  }
  return null;
}

function containsRange(outer: Range, inner: Range): boolean {
  const before = (a: Range['start'], b: Range['start']): boolean => a.line < b.line || (a.line === b.line && a.character <= b.character);
  return before(outer.start, inner.start) && before(inner.end, outer.end);
}

function isNode(node: Node | null): node is Node {
  return node !== null;
}

const SIMPLE_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };

/** Decodes the escapes a model id could plausibly contain; unknown escapes stay as written, as in Python. */
function decodePythonEscapes(raw: string): string {
  return raw.replace(/\\(\r\n|\n|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (whole, escape: string) => {
    if (escape === '\n' || escape === '\r\n') return '';
    const simple = SIMPLE_ESCAPES[escape];
    if (simple !== undefined) return simple;
    if (/^[xuU]/.test(escape) && escape.length > 1) {
      const codePoint = parseInt(escape.slice(1), 16);
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : whole;
    }
    return whole;
  });
}
