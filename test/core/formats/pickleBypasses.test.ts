// A corpus of pickle-scanner bypasses (public advisories; picklescan, modelscan and fickling docs;
// JFrog/Sonatype/ReversingLabs write-ups) and of gadget classes, each generated here opcode by opcode.
// Each must come out of the engine as a dangerous finding; harmless globals must not. Where python3
// is installed, CPython's own unpickler (with a recording find_class, nothing executed) confirms that
// it would import exactly the globals the walker reports.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readPytorchCheckpointFrom, type PytorchCheckpoint } from '../../../server/src/core/formats/pytorch';
import { walkPickle } from '../../../server/src/core/formats/pickle';
import { classifyGlobal, type GadgetClass } from '../../../server/src/core/formats/pickleSafety';
import { BufferSource } from '../../../server/src/core/io/byteSource';
import { buildZip, PickleWriter } from '../../fixtures/pickleWriter';

/** Globals CPython's C or pure-Python unpickler asks find_class for; undefined when python3 is missing. */
function cpythonGlobals(bytes: Uint8Array): string[] | undefined {
  const script = [
    'import io, json, pickle, sys',
    'seen = []',
    'class Recorder(pickle.Unpickler):',
    '    def find_class(self, module, name):',
    '        seen.append(module + "." + name)',
    '        return lambda *a, **k: None',
    'class PyRecorder(pickle._Unpickler):',
    '    find_class = Recorder.find_class',
    'data = sys.stdin.buffer.read()',
    'for cls in (Recorder, PyRecorder):',
    '    try:',
    '        cls(io.BytesIO(data)).load()',
    '    except Exception:',
    '        pass',
    'print(json.dumps(seen))',
  ].join('\n');
  try {
    return JSON.parse(execFileSync('python3', ['-c', script], { input: bytes, encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'] })) as string[];
  } catch {
    return undefined;
  }
}

async function scan(bytes: Uint8Array, name = 'bypass.pkl'): Promise<PytorchCheckpoint> {
  return readPytorchCheckpointFrom(new BufferSource(name, bytes));
}

function dangerous(ck: PytorchCheckpoint): string[] {
  return ck.findings.filter((f) => f.severity === 'critical' && f.code === 'pickle-dangerous-global').map((f) => f.message);
}

/** Splits `body` into protocol-4 frames at the given cut points (relative to body), PROTO first. */
function framed(body: Uint8Array, cuts: number[], declared?: (index: number, length: number) => number): Uint8Array {
  const w = new PickleWriter().proto(4);
  const bounds = [0, ...cuts, body.length];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const chunk = body.subarray(bounds[i], bounds[i + 1]);
    w.op('FRAME').u64(declared ? declared(i, chunk.length) : chunk.length).raw(chunk);
  }
  return w.bytes();
}

/** `module.name(arg)` through STACK_GLOBAL + REDUCE, as protocol 4 writes it (without PROTO). */
function stackGlobalCall(module: string, name: string, arg = 'id'): Uint8Array {
  return new PickleWriter().str(module).op('MEMOIZE').str(name).op('MEMOIZE').op('STACK_GLOBAL').op('MEMOIZE')
    .str(arg).op('MEMOIZE').op('TUPLE1').op('MEMOIZE').op('REDUCE').op('MEMOIZE').op('STOP').bytes();
}

/** `module.name(arg)` through GLOBAL + REDUCE (protocols 0-3). */
function globalCall(module: string, name: string, arg = 'id', proto = 2): Uint8Array {
  return new PickleWriter().proto(proto).global(module, name).str(arg).op('TUPLE1').op('REDUCE').op('STOP').bytes();
}

async function assertSeenLikeCPython(bytes: Uint8Array, expected: string): Promise<PytorchCheckpoint> {
  const ck = await scan(bytes);
  assert.ok(ck.globals.some((g) => `${g.module}.${g.name}` === expected), `walker missed ${expected}: ${JSON.stringify(ck.globals)}`);
  const cpython = cpythonGlobals(bytes);
  if (cpython !== undefined) assert.ok(cpython.includes(expected), `CPython would not import ${expected} (saw ${cpython.join(', ')}): the test input is wrong`);
  return ck;
}

describe('pickle bypass corpus: each technique is still a dangerous finding', () => {
  describe('FRAME games (what CPython runs across frames is seen; framing no pickler writes is reported)', () => {
    // body offsets: 0 SHORT_BINUNICODE 'os' | 4 MEMOIZE | 5 SHORT_BINUNICODE 'system' | 13 MEMOIZE | 14 STACK_GLOBAL ...
    const body = stackGlobalCall('os', 'system');

    it('module, name and STACK_GLOBAL in three different frames', async () => {
      const ck = await assertSeenLikeCPython(framed(body, [4, 13]), 'os.system');
      assert.equal(dangerous(ck).length, 1);
    });

    it('a short first frame, then the payload outside any frame', async () => {
      const bytes = Uint8Array.from([...framed(body.subarray(0, 4), []), ...body.subarray(4)]);
      assert.equal(dangerous(await assertSeenLikeCPython(bytes, 'os.system')).length, 1);
    });

    it('a frame declared longer than the data (the pure-Python unpickler still runs it)', async () => {
      const ck = await assertSeenLikeCPython(framed(body, [], () => 1 << 30), 'os.system');
      assert.equal(dangerous(ck).length, 1);
      assert.ok(ck.findings.some((f) => f.code === 'pickle-frame-anomaly'));
    });

    it('a STOP before the frame ends, with a second payload hidden in the rest of the frame', async () => {
      const hidden = globalCall('builtins', 'exec', 'print(1)');
      const ck = await assertSeenLikeCPython(framed(Uint8Array.from([...body, ...hidden]), []), 'os.system');
      // Both payloads: the first pickle, and the hidden one scanned as a following pickle.
      assert.equal(dangerous(ck).length, 2);
      assert.ok(ck.findings.some((f) => f.code === 'pickle-frame-anomaly' && /STOP/.test(f.message)));
    });

    it('an opcode straddling a frame end is walked through and reported', async () => {
      const ck = await scan(framed(body, [7]));
      assert.ok(ck.findings.some((f) => f.code === 'pickle-frame-anomaly' && /runs across the end of its FRAME/.test(f.message)), JSON.stringify(ck.findings));
    });

    it('a FRAME opened inside the previous frame is reported', async () => {
      const inner = new PickleWriter().op('FRAME').u64(body.length).raw(body).bytes();
      const ck = await scan(new PickleWriter().proto(4).op('FRAME').u64(inner.length + 2).raw(inner).bytes());
      assert.equal(dangerous(ck).length, 1);
      assert.ok(ck.findings.some((f) => f.code === 'pickle-frame-anomaly' && /inside the previous frame/.test(f.message)));
    });
  });

  it('STACK_GLOBAL operands fetched from the memo', async () => {
    const bytes = new PickleWriter().proto(4).str('posix').op('MEMOIZE').op('POP').str('system').op('MEMOIZE').op('POP')
      .op('BINGET').raw([0]).op('BINGET').raw([1]).op('STACK_GLOBAL').str('id').op('TUPLE1').op('REDUCE').op('STOP').bytes();
    const ck = await assertSeenLikeCPython(bytes, 'posix.system');
    assert.match(dangerous(ck)[0]!, /names from the memo/);
  });

  it('STACK_GLOBAL operands that are not strings (hidden target)', async () => {
    const bytes = new PickleWriter().proto(4).int(1).int(2).op('STACK_GLOBAL').op('STOP').bytes();
    assert.equal(dangerous(await scan(bytes)).length, 1);
  });

  it('a dotted STACK_GLOBAL name reaching an attribute (builtins.eval.__call__)', async () => {
    const ck = await assertSeenLikeCPython(new PickleWriter().proto(4).raw(stackGlobalCall('builtins', 'eval.__call__', '1+1')).bytes(), 'builtins.eval.__call__');
    assert.equal(dangerous(ck).length, 1);
  });

  it('a dotted name through an allowed module to a dunder (torch._utils._rebuild_tensor.__globals__)', async () => {
    const c = classifyGlobal({ module: 'torch._utils', name: '_rebuild_tensor.__globals__', resolved: true, opcode: 'STACK_GLOBAL' });
    assert.equal(c.verdict, 'dangerous');
    assert.equal(c.gadgetClass, 'attribute');
  });

  it('INST (protocol 0) imports and calls in one opcode', async () => {
    const bytes = new PickleWriter().op('MARK').str('id').op('INST').line('os').line('system').op('STOP').bytes();
    assert.equal(dangerous(await assertSeenLikeCPython(bytes, 'os.system')).length, 1);
  });

  it('OBJ with a class from GLOBAL', async () => {
    const bytes = new PickleWriter().proto(1).op('MARK').global('subprocess', 'Popen').str('id').op('OBJ').op('STOP').bytes();
    assert.equal(dangerous(await assertSeenLikeCPython(bytes, 'subprocess.Popen')).length, 1);
  });

  it('NEWOBJ_EX on a dangerous class', async () => {
    const bytes = new PickleWriter().proto(4).raw(new PickleWriter().str('subprocess').str('Popen').op('STACK_GLOBAL').bytes())
      .op('EMPTY_TUPLE').op('EMPTY_DICT').op('NEWOBJ_EX').op('STOP').bytes();
    assert.equal(dangerous(await assertSeenLikeCPython(bytes, 'subprocess.Popen')).length, 1);
  });

  it('protocol 0 text with CRLF line ends', async () => {
    const bytes = new PickleWriter().raw(Buffer.from('cos\r\nsystem\r\n(S\'id\'\r\ntR.', 'latin1')).bytes();
    assert.equal(dangerous(await scan(bytes)).length, 1);
  });

  it('a payload followed by garbage so the pickle does not parse (nullifAI)', async () => {
    const bytes = new PickleWriter().proto(2).global('os', 'system').str('id').op('TUPLE1').op('REDUCE').raw([0xff, 0xfe]).bytes();
    const ck = await scan(bytes);
    assert.equal(dangerous(ck).length, 1);
    assert.ok(ck.findings.some((f) => f.code === 'pickle-parse-error'));
  });

  it('a copyreg extension code (EXT1) is an unknown import, reported', async () => {
    const ck = await scan(new PickleWriter().proto(2).op('EXT1').raw([7]).op('STOP').bytes());
    assert.ok(ck.findings.some((f) => f.code === 'pickle-unknown-global' && /extension/.test(f.message)));
  });

  it('a payload in a later pickle of a legacy stream', async () => {
    const first = new PickleWriter().proto(2).int(5).op('STOP').bytes();
    const ck = await scan(Uint8Array.from([...first, ...globalCall('os', 'system')]));
    assert.equal(dangerous(ck).length, 1);
  });

  it('a plain zip whose root data.pkl calls eval (not torch.save\'s layout): findings, not an error', async () => {
    const zip = buildZip([{ name: 'data.pkl', data: globalCall('builtins', 'eval', '1+1') }]);
    const ck = await scan(zip, 'plain.zip');
    assert.equal(dangerous(ck).length, 1);
    assert.ok(ck.findings.some((f) => f.code === 'pickle-foreign-zip'));
  });

  it('a payload in an extra .pickle entry of a real-layout zip, and in a deflated entry', async () => {
    const clean = new PickleWriter().proto(2).op('EMPTY_DICT').op('STOP').bytes();
    const zip = buildZip([
      { name: 'archive/data.pkl', data: clean },
      { name: 'archive/extra/state.pickle', data: globalCall('os', 'system') },
      { name: 'archive/more.pkl', data: globalCall('builtins', 'exec', 'x'), method: 8 },
    ]);
    const ck = await scan(zip, 'model.pt');
    assert.equal(dangerous(ck).length, 2);
  });
});

describe('pickle gadget classes: each known gadget is dangerous with its class', () => {
  const cases: Array<[GadgetClass, string, string]> = [
    ['process', 'torch.utils.collect_env', 'run'],
    ['process', 'uuid', '_get_command_stdout'],
    ['process', 'subprocess', 'Popen'],
    ['process', 'pip', 'main'],
    ['code', 'doctest', 'debug_script'],
    ['code', 'types', 'CodeType'],
    ['code', 'builtins', 'exec'],
    ['code', 'runpy', '_run_code'],
    ['code', 'torch._inductor.codecache', 'compile_file'],
    ['file', 'logging', 'FileHandler'],
    ['file', 'builtins', 'open'],
    ['file', 'shutil', 'rmtree'],
    ['network', 'smtplib', 'SMTP'],
    ['network', 'socket', 'create_connection'],
    ['network', 'urllib.request', 'urlopen'],
    ['import', 'importlib', 'import_module'],
    ['import', 'builtins', '__import__'],
    ['import', 'pkgutil', 'resolve_name'],
    ['attribute', 'builtins', 'getattr'],
    ['attribute', 'operator', 'methodcaller'],
    ['attribute', 'functools', 'partial'],
    ['unpickle', 'pickle', 'loads'],
    ['unpickle', 'torch.serialization', 'load'],
    ['unpickle', 'numpy', 'load'],
  ];
  for (const [gadgetClass, module, name] of cases) {
    it(`${gadgetClass}: ${module}.${name}`, async () => {
      const ck = await scan(globalCall(module, name));
      const messages = dangerous(ck);
      assert.equal(messages.length, 1, JSON.stringify(ck.findings));
      assert.match(messages[0]!, new RegExp(`\\(${gadgetClass} gadget\\)`));
      assert.equal(classifyGlobal({ module, name, resolved: true, opcode: 'GLOBAL' }).gadgetClass, gadgetClass);
    });
  }

  it('harmless globals are allowed: no finding at all', async () => {
    const harmless: Array<[string, string]> = [
      ['builtins', 'len'], ['builtins', 'dict'], ['builtins', 'set'], ['__builtin__', 'list'], ['_codecs', 'encode'],
      ['__future__', 'print_function'], ['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'],
      ['torch._utils', '_rebuild_device_tensor_from_numpy'], ['numpy.core.multiarray', '_reconstruct'], ['numpy.dtypes', 'Float32DType'],
    ];
    for (const [module, name] of harmless) {
      const ck = await scan(globalCall(module, name));
      assert.deepEqual(ck.findings, [], `${module}.${name}`);
    }
  });

  it('any other global is still a finding (unknown, medium)', async () => {
    const ck = await scan(globalCall('mylib.layers', 'Block'));
    assert.deepEqual(ck.findings.map((f) => [f.severity, f.code]), [['medium', 'pickle-unknown-global']]);
  });

  it('walking never executes: the walker returns symbolic calls', () => {
    const result = walkPickle(globalCall('os', 'system', 'touch /tmp/lineage-pwned'), 'x');
    assert.equal(typeof result.value === 'object' && result.value !== null ? result.value.kind : undefined, 'call');
  });
});
