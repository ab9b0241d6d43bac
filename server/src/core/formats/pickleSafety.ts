// Classifies the globals a pickle imports: an allowlist of what torch weights need, a list of known
// code-execution gadgets, and everything else as unknown. Turns them into SecurityFindings.
import type { PickleGlobalRef } from './pickle';
import type { SecurityFinding, Severity } from './types';

export type GlobalVerdict = 'allowed' | 'dangerous' | 'suspicious' | 'code-reference' | 'unknown';

export interface GlobalClassification {
  verdict: GlobalVerdict;
  /** Severity of the finding this global produces; undefined for allowed globals (no finding). */
  severity?: Severity;
  reason: string;
}

export type PickleFindingCode = 'pickle-dangerous-global' | 'pickle-unknown-global' | 'pickle-parse-error' | 'torchscript-code';

/** What torch.save / numpy need to rebuild weights; none of these can reach arbitrary code. */
const ALLOWED_GLOBALS = new Set<string>([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
  'torch._utils._rebuild_qtensor',
  'torch._utils._rebuild_sparse_tensor',
  'torch._utils._rebuild_meta_tensor_no_storage',
  'torch._tensor._rebuild_from_type_v2',
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
  // Pure data constructors: they build a value from their arguments and touch nothing else.
  'builtins.set',
  'builtins.frozenset',
  'builtins.bytearray',
  'builtins.slice',
  'builtins.complex',
  '__builtin__.set',
  '__builtin__.frozenset',
  '__builtin__.bytearray',
  '__builtin__.slice',
  '__builtin__.complex',
]);

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

/** Modules whose every member (and every submodule) can run commands, load code or touch the network. */
const DANGEROUS_MODULES = [
  'os', 'nt', 'posix', 'subprocess', 'sys', 'socket', 'ssl', 'shutil', 'runpy', 'pty', 'pickle', '_pickle',
  'pdb', 'bdb', 'pip', 'venv', 'timeit', 'pydoc', 'webbrowser', 'ctypes', 'asyncio', 'aiohttp', 'httplib',
  'http.client', 'urllib', 'requests.api', 'commands', 'importlib', 'marshal', 'multiprocessing', 'signal',
  '_posixsubprocess', 'code', 'codeop', 'dill', 'cloudpickle', 'joblib', 'numpy.f2py',
  'numpy.testing._private.utils', 'distutils.file_util', 'setuptools', 'idlelib', 'lib2to3', 'ensurepip',
  'profile', 'cProfile', 'trace', 'tempfile', 'glob', 'pathlib', 'io', '_io',
];

/** Single members that are gadgets although their module is not dangerous as a whole. */
const DANGEROUS_NAMES = new Set<string>([
  ...['eval', 'exec', 'execfile', 'compile', 'getattr', 'setattr', 'delattr', 'apply', 'open', 'breakpoint',
    '__import__', 'input', 'globals', 'locals', 'vars']
    .flatMap((name) => [`builtins.${name}`, `__builtin__.${name}`]),
  'functools.partial',
  'functools.reduce',
  'operator.attrgetter',
  'operator.itemgetter',
  'operator.methodcaller',
  'pkgutil.resolve_name',
  'pkgutil.get_importer',
  'torch.load',
  'torch.serialization.load',
  'torch.serialization._load',
  // Unpickles nested bytes with torch.load(weights_only=False).
  'torch.storage._load_from_bytes',
  'torch.jit.load',
  'torch.hub.load',
  'torch.hub.load_state_dict_from_url',
  'torch._inductor.codecache.compile_file',
  'torch.utils._config_module.ConfigModule.load_config',
  'torch.utils.cpp_extension.load',
  'torch.utils.cpp_extension.load_inline',
  'numpy.load',
  'pandas.read_pickle',
]);

/** Common in benign pickles (numpy uses it for bytes), but able to build any bytes an exploit needs. */
const SUSPICIOUS_BUT_COMMON = new Set<string>(['_codecs.encode', 'codecs.encode']);

function inModule(module: string, parent: string): boolean {
  return module === parent || module.startsWith(`${parent}.`);
}

/** The verdict on one imported global, given whether the file is a TorchScript archive. */
export function classifyGlobal(ref: Pick<PickleGlobalRef, 'module' | 'name' | 'resolved' | 'opcode'>, context: { torchscript?: boolean } = {}): GlobalClassification {
  const qualified = `${ref.module}.${ref.name}`;
  if (!ref.resolved) {
    return ref.opcode === 'EXT'
      ? { verdict: 'unknown', severity: 'medium', reason: `copyreg extension code ${ref.name}: the imported object depends on a runtime registry` }
      : { verdict: 'dangerous', severity: 'critical', reason: 'STACK_GLOBAL with operands that are not plain strings: the import target is hidden' };
  }
  // A dotted name can climb into a dangerous module (`getattr`-free attribute walks): check the full path.
  const dangerousModule = DANGEROUS_MODULES.find((m) => inModule(ref.module, m) || inModule(qualified, m));
  if (dangerousModule) return { verdict: 'dangerous', severity: 'critical', reason: `${dangerousModule} can run commands or load code` };
  if (DANGEROUS_NAMES.has(qualified)) return { verdict: 'dangerous', severity: 'critical', reason: `${qualified} is a known code-execution gadget` };
  if (ALLOWED_GLOBALS.has(qualified) || (ref.module === 'torch' && ALLOWED_TORCH_ATTRIBUTES.has(ref.name))) {
    return { verdict: 'allowed', reason: 'needed to rebuild tensors' };
  }
  if (SUSPICIOUS_BUT_COMMON.has(qualified)) {
    return { verdict: 'suspicious', severity: 'low', reason: `${qualified} is common in numpy pickles but can build arbitrary bytes` };
  }
  if (context.torchscript && inModule(ref.module, '__torch__')) {
    return { verdict: 'code-reference', severity: 'info', reason: 'a class defined by the archive\'s TorchScript code' };
  }
  return { verdict: 'unknown', severity: 'medium', reason: 'unknown global, not on the allowlist' };
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

/** The finding for a pickle that could not be read to its end (a known scanner evasion, see nullifAI). */
export function parseErrorFinding(file: string, where: string, reason: string): SecurityFinding {
  return {
    severity: 'high',
    code: 'pickle-parse-error',
    file,
    message: `${where} is not a well-formed pickle (${reason}); torch.load may still execute what precedes the fault`,
  };
}
