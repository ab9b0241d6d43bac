// Classifies the globals a pickle imports: an allowlist of what torch weights need and of pure data
// constructors, known gadgets by class (dangerous), and everything else as unknown. Turns them into SecurityFindings.
import type { PickleAnomaly, PickleGlobalRef } from './pickle';
import type { SecurityFinding, Severity } from './types';

export type GlobalVerdict = 'allowed' | 'dangerous' | 'code-reference' | 'unknown';

export interface GlobalClassification {
  verdict: GlobalVerdict;
  /** Severity of the finding this global produces; undefined for allowed globals (no finding). */
  severity?: Severity;
  reason: string;
  /** For dangerous globals: what the gadget gives an attacker. */
  gadgetClass?: GadgetClass;
}

export type PickleFindingCode = 'pickle-dangerous-global' | 'pickle-unknown-global' | 'pickle-parse-error' | 'pickle-frame-anomaly' | 'torchscript-code';

/** What torch.save / numpy need to rebuild weights, and pure data constructors: none can reach code. */
const ALLOWED_GLOBALS = new Set<string>([
  'collections.OrderedDict',
  'typing.OrderedDict',
  // copyreg._reconstructor(cls, base, state) only calls base.__new__(cls); cls is its own (classified) global.
  'copyreg._reconstructor',
  'torch._tensor._rebuild_from_type_v2',
  'torch.serialization._get_layout',
  'torch.Size',
  'torch.device',
  'torch.storage.UntypedStorage',
  'torch.storage.TypedStorage',
  'torch.UntypedStorage',
  'torch.TypedStorage',
  'torch.nn.parameter.Parameter',
  'torch.jit._pickle.build_intlist',
  'torch.jit._pickle.build_doublelist',
  'torch.jit._pickle.build_boollist',
  'torch.jit._pickle.build_tensorlist',
  'torch.jit._pickle.build_tensor_from_id',
  'torch.jit._pickle.restore_type_tag',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray._reconstruct',
  'numpy.core.multiarray.scalar',
  'numpy._core.multiarray.scalar',
  'numpy.dtype',
  'numpy.ndarray',
  // numpy writes bytes in protocol 2 as _codecs.encode(str, 'latin1'): it only transcodes its arguments.
  '_codecs.encode',
  'codecs.encode',
  // Pure data constructors and functions of their arguments: they build or measure a value and touch nothing else.
  ...['set', 'frozenset', 'bytearray', 'bytes', 'slice', 'complex', 'dict', 'list', 'tuple', 'int', 'float', 'bool', 'str', 'range', 'len', 'object']
    .flatMap((name) => [`builtins.${name}`, `__builtin__.${name}`]),
  '__builtin__.unicode',
  '__builtin__.long',
]);

/** Prefixes of harmless families: torch's tensor rebuilders, numpy 2's dtype classes, `from __future__` flags. */
const ALLOWED_PREFIXES = ['torch._utils._rebuild_', 'numpy.dtypes.', '__future__.'];

/** Storage classes by element type; `torch.XStorage` in checkpoints of every torch version. */
export const TORCH_STORAGE_CLASSES = [
  'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage',
  'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage', 'ComplexFloatStorage', 'ComplexDoubleStorage',
  'QInt8Storage', 'QUInt8Storage', 'QInt32Storage', 'QUInt4x2Storage', 'QUInt2x4Storage',
  'Float8_e4m3fnStorage', 'Float8_e5m2Storage', 'UInt16Storage', 'UInt32Storage', 'UInt64Storage',
];

/** `torch.<dtype>` attributes that pickles reference (newer torch writes dtypes, not storage classes). */
export const TORCH_DTYPE_NAMES = [
  'float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double', 'int64', 'long', 'int32', 'int',
  'int16', 'short', 'int8', 'uint8', 'bool', 'uint16', 'uint32', 'uint64', 'complex64', 'complex128',
  'cfloat', 'cdouble', 'float8_e4m3fn', 'float8_e5m2', 'qint8', 'quint8', 'qint32', 'quint4x2',
];

const ALLOWED_TORCH_ATTRIBUTES = new Set<string>([...TORCH_STORAGE_CLASSES, ...TORCH_DTYPE_NAMES]);

/** What a known gadget gives an attacker once the unpickler calls it. */
export type GadgetClass = 'process' | 'code' | 'file' | 'network' | 'import' | 'attribute' | 'unpickle';

const GADGET_REASONS: Readonly<Record<GadgetClass, string>> = {
  process: 'runs programs or controls processes',
  code: 'compiles or runs Python code (or native code)',
  file: 'reads, writes or deletes files',
  network: 'opens network connections',
  import: 'imports modules chosen by the pickle',
  attribute: 'reaches attributes or calls callables chosen by the pickle (an indirection to any other gadget)',
  unpickle: 'deserializes nested data with an unrestricted unpickler',
};

/**
 * Known gadgets by class, as dotted prefixes: `os` covers `os.system` and `os.path.join`; a member
 * covers its attributes. Collected from picklescan's and modelscan's unsafe-globals lists, fickling's
 * documentation and public advisories (JFrog/Sonatype 2024-25 bypasses: pip.main, uuid, doctest,
 * torch.utils.collect_env, logging handlers, smtplib).
 */
const GADGETS: Readonly<Record<GadgetClass, readonly string[]>> = {
  process: [
    'os', 'nt', 'posix', 'subprocess', 'pty', 'commands', 'popen2', '_posixsubprocess', '_winapi', 'multiprocessing', 'signal',
    'platform.popen', 'uuid._get_command_stdout', 'uuid._popen', 'torch.utils.collect_env.run',
    'torch.utils.collect_env.run_and_read_all', 'torch.utils.collect_env.run_and_parse_first_match',
    'torch.utils.collect_env.run_and_return_first_line', 'torch.utils.bottleneck', 'asyncio.subprocess',
    'asyncio.create_subprocess_exec', 'asyncio.create_subprocess_shell', 'pip', 'ensurepip', 'venv', 'distutils.spawn',
    'setuptools', 'webbrowser', 'builtins.help', '__builtin__.help',
  ],
  code: [
    ...['eval', 'exec', 'execfile', 'compile', 'breakpoint', 'input'].flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`]),
    'runpy', 'code', 'codeop', 'types.CodeType', 'types.FunctionType', 'types.LambdaType', 'types.MethodType',
    'doctest', 'pdb', 'bdb', 'timeit', 'cProfile', 'profile', 'trace', 'pydoc', 'idlelib', 'lib2to3', 'sys', 'ctypes',
    '_ctypes', 'cffi', 'marshal', 'numpy.testing._private.utils.runstring', 'numpy.f2py', 'numpy.distutils',
    'torch.jit.load', 'torch.jit._load_for_lite_interpreter', 'torch.jit.unsupported_tensor_ops',
    'torch._inductor.codecache', 'torch.utils.cpp_extension', 'torch._dynamo.guards',
    'torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_guards_expression', 'torch.utils._config_module.ConfigModule.load_config',
    'torch.fx.graph_module._forward_from_src', 'torch.package', 'logging.config', 'site',
  ],
  file: [
    'builtins.open', '__builtin__.open', '__builtin__.file', 'io', '_io', 'codecs.open', 'shutil', 'tempfile', 'glob', 'pathlib',
    'fileinput', 'linecache', 'logging.FileHandler', 'logging.handlers', 'tarfile', 'zipfile', 'gzip.open', 'bz2.open', 'lzma.open',
    'distutils.file_util', 'distutils.dir_util', 'distutils.archive_util', 'filecmp', 'mmap', 'sqlite3', 'dbm', 'numpy.save', 'numpy.savetxt',
    'numpy.tofile', 'numpy.memmap', 'numpy.fromfile', 'numpy.loadtxt', 'numpy.genfromtxt', 'torch.save', 'torch.serialization.save',
  ],
  network: [
    'socket', '_socket', 'ssl', 'http', 'httplib', 'urllib', 'urllib2', 'urllib3', 'requests', 'aiohttp', 'httpx', 'smtplib',
    'smtpd', 'ftplib', 'telnetlib', 'imaplib', 'poplib', 'nntplib', 'xmlrpc', 'xmlrpclib', 'socketserver', 'SocketServer', 'asyncio',
    'torch.hub', 'torch.distributed', 'huggingface_hub', 'logging.handlers.SocketHandler',
  ],
  import: [
    '__builtin__.__import__', 'builtins.__import__', 'importlib', 'imp', 'pkgutil', 'zipimport', 'torch._utils._import_dotted_name',
    'torch.hub.import_module',
  ],
  attribute: [
    ...['getattr', 'setattr', 'delattr', 'vars', 'globals', 'locals', 'apply', 'super']
      .flatMap((n) => [`builtins.${n}`, `__builtin__.${n}`]),
    'operator.attrgetter', 'operator.methodcaller', 'operator.itemgetter', 'operator.getitem', 'operator.call', '_operator',
    'functools.partial', 'functools.partialmethod', 'functools.reduce', '_functools', 'gc', 'inspect',
  ],
  unpickle: [
    'pickle', '_pickle', 'cPickle', 'dill', 'cloudpickle', 'joblib', 'shelve', 'jsonpickle', 'torch.load', 'torch.serialization.load',
    'torch.serialization._load', 'torch.storage._load_from_bytes', 'numpy.load', 'numpy.lib.npyio', 'numpy.lib.format.read_array',
    'pandas.read_pickle', 'pandas.io.pickle', 'yaml.load', 'yaml.unsafe_load', 'yaml.full_load', 'keras.models.load_model',
  ],
};

/** Longest-first so the most specific gadget names the class (`logging.handlers.SocketHandler` is network). */
const GADGET_PREFIXES: ReadonlyArray<readonly [string, GadgetClass]> = (Object.entries(GADGETS) as Array<[GadgetClass, readonly string[]]>)
  .flatMap(([gadgetClass, names]) => names.map((name) => [name, gadgetClass] as const))
  .sort((a, b) => b[0].length - a[0].length);

function underPrefix(qualified: string, prefix: string): boolean {
  return qualified === prefix || qualified.startsWith(`${prefix}.`);
}

/** The gadget class of a dotted name, with the gadget it matched. */
export function gadgetOf(qualified: string): { gadget: string; gadgetClass: GadgetClass } | undefined {
  for (const [gadget, gadgetClass] of GADGET_PREFIXES) if (underPrefix(qualified, gadget)) return { gadget, gadgetClass };
  return undefined;
}

/** Dunder attributes reached through a dotted name (`eval.__call__`, `x.__globals__`): protocol 4 resolves them. */
function dunderAttribute(name: string): string | undefined {
  const parts = name.split('.');
  return parts.length > 1 ? parts.slice(1).find((p) => /^__\w+__$/.test(p)) : undefined;
}

/** The verdict on one imported global, given whether the file is a TorchScript archive. */
export function classifyGlobal(ref: Pick<PickleGlobalRef, 'module' | 'name' | 'resolved' | 'opcode'>, context: { torchscript?: boolean } = {}): GlobalClassification {
  const qualified = `${ref.module}.${ref.name}`;
  if (!ref.resolved) {
    return ref.opcode === 'EXT'
      ? { verdict: 'unknown', severity: 'medium', reason: `copyreg extension code ${ref.name}: the imported object depends on a runtime registry` }
      : { verdict: 'dangerous', severity: 'critical', gadgetClass: 'import', reason: 'STACK_GLOBAL with operands that are not plain strings: the import target is hidden' };
  }
  if (ALLOWED_GLOBALS.has(qualified)) return { verdict: 'allowed', reason: 'needed to rebuild tensors, or a pure data constructor' };
  const gadget = gadgetOf(qualified);
  if (gadget) {
    return { verdict: 'dangerous', severity: 'critical', gadgetClass: gadget.gadgetClass, reason: `${gadget.gadget} ${GADGET_REASONS[gadget.gadgetClass]} (${gadget.gadgetClass} gadget)` };
  }
  const dunder = dunderAttribute(ref.name);
  if (dunder) {
    return { verdict: 'dangerous', severity: 'critical', gadgetClass: 'attribute', reason: `reaches ${dunder} of ${ref.module}.${ref.name.split('.')[0]}: ${GADGET_REASONS.attribute} (attribute gadget)` };
  }
  if (ALLOWED_PREFIXES.some((p) => qualified.startsWith(p)) || (ref.module === 'torch' && ALLOWED_TORCH_ATTRIBUTES.has(ref.name))) {
    return { verdict: 'allowed', reason: 'needed to rebuild tensors' };
  }
  if (context.torchscript && underPrefix(ref.module, '__torch__')) {
    return { verdict: 'code-reference', severity: 'info', reason: 'a class defined by the archive\'s TorchScript code' };
  }
  return { verdict: 'unknown', severity: 'medium', reason: 'unknown global, not on the allowlist: torch.load(weights_only=False) would import and may call it' };
}

/**
 * Findings for the globals of one pickle (`where` names it, e.g. `archive/data.pkl`): one per distinct
 * non-allowed global, except TorchScript class references, which are summarised in a single info finding.
 */
export function globalFindings(globals: readonly PickleGlobalRef[], file: string, where: string, context: { torchscript?: boolean } = {}): SecurityFinding[] {
  const findings: SecurityFinding[] = [];
  const seen = new Set<string>();
  const codeReferences: string[] = [];
  for (const ref of globals) {
    const qualified = `${ref.module}.${ref.name}`;
    if (seen.has(qualified)) continue;
    seen.add(qualified);
    const verdict = classifyGlobal(ref, context);
    if (verdict.verdict === 'allowed' || verdict.severity === undefined) continue;
    if (verdict.verdict === 'code-reference') {
      codeReferences.push(qualified);
      continue;
    }
    const how = ref.opcode === 'STACK_GLOBAL' && ref.operandsFromMemo ? 'STACK_GLOBAL with names from the memo' : ref.opcode;
    findings.push({
      severity: verdict.severity,
      code: verdict.verdict === 'dangerous' ? 'pickle-dangerous-global' : 'pickle-unknown-global',
      file,
      message: `${where} imports ${qualified} (via ${how} at byte ${ref.offset}): ${verdict.reason}`,
    });
  }
  if (codeReferences.length > 0) {
    const shown = codeReferences.slice(0, 5).join(', ');
    findings.push({
      severity: 'info',
      code: 'torchscript-code',
      file,
      message: `${where} references ${codeReferences.length} TorchScript class(es) defined in the archive's code (${shown}${codeReferences.length > 5 ? ', ...' : ''})`,
    });
  }
  return findings;
}

/** One finding for a pickle whose framing no pickler writes (opcodes hidden across FRAME boundaries). */
export function frameAnomalyFindings(anomalies: readonly PickleAnomaly[], file: string, where: string): SecurityFinding[] {
  if (anomalies.length === 0) return [];
  const more = anomalies.length > 1 ? ` (and ${anomalies.length - 1} more)` : '';
  return [{
    severity: 'high',
    code: 'pickle-frame-anomaly',
    file,
    message: `${where} is framed in a way no pickler writes: ${anomalies[0]!.message}${more}. CPython still runs such opcodes; frame-aware scanners miss them`,
  }];
}

/** The finding for a pickle that could not be read to its end (a known scanner evasion, see nullifAI). */
export function parseErrorFinding(file: string, where: string, reason: string): SecurityFinding {
  return {
    severity: 'high',
    code: 'pickle-parse-error',
    file,
    message: `${where} is not a well-formed pickle (${reason}); torch.load may still execute what precedes the fault`,
  };
}
