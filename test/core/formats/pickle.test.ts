// Tests of the non-executing pickle walker and the global classifier: real CPython pickles of every
// protocol family, hand-built opcode streams, and hostile inputs that must fail fast with typed errors.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import {
  PickleError,
  walkPickle,
  walkPickleStream,
  type PickleCall,
  type PickleDict,
  type PickleValue,
} from '../../../server/src/core/formats/pickle';
import { ModelFormatError } from '../../../server/src/core/errors';
import { classifyGlobal, globalFindings } from '../../../server/src/core/formats/pickleSafety';
import { findTensorReferences } from '../../../server/src/core/formats/pytorch';
import { legacyPreamble, PickleWriter } from '../../fixtures/pickleWriter';
import { zooPath } from '../../support/zoo';

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

// Generated offline with CPython 3.11's pickle module (fake torch modules, persistent ids for storages)
// for an OrderedDict of 3 tensors plus a bytearray, a str, a float, 2**70, 2**40 and True.
const PICKLE_P0 = hex(
  '63636f6c6c656374696f6e730a4f726465726564446963740a70300a28745270310a566c617965722e7765696768740a' +
  '70320a63746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a70330a28285673746f726167' +
  '650a70340a63746f7263680a466c6f617453746f726167650a70350a56300a70360a566370750a70370a49360a747038' +
  '0a5149300a2849320a49330a7470390a2849330a49310a747031300a4930300a67300a2874527031310a747031320a52' +
  '7031330a73566c617965722e7765696768745f740a7031340a67330a282867340a67350a67360a67370a49360a747031' +
  '350a5149300a2849330a49320a747031360a2849310a49330a747031370a4930300a67300a2874527031380a74703139' +
  '0a527032300a73566c617965722e626961730a7032310a67330a282867340a63746f7263680a48616c6653746f726167' +
  '650a7032320a56310a7032330a67370a49340a747032340a5149310a2849330a747032350a2849310a747032360a4930' +
  '300a67300a2874527032370a747032380a527032390a735665787472610a7033300a635f5f6275696c74696e5f5f0a62' +
  '79746561727261790a7033310a28635f636f646563730a656e636f64650a7033320a285678797a0a7033330a566c6174' +
  '696e310a7033340a747033350a527033360a747033370a527033380a73566e6f74650a7033390a56636166e90a703430' +
  '0a7356726174696f0a7034310a46302e350a73566269670a7034320a4c31313830353931363230373137343131333033' +
  '3432344c0a73566d69640a7034330a4c313039393531313632373737364c0a7356666c61670a7034340a4930310a732e',
);
const PICKLE_P2 = hex(
  '800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710128580c0000006c617965722e776569' +
  '676874710263746f7263682e5f7574696c730a5f72656275696c645f74656e736f725f76320a71032828580700000073' +
  '746f72616765710463746f7263680a466c6f617453746f726167650a7105580100000030710658030000006370757107' +
  '4b06747108514b004b024b038671094b034b0186710a8968002952710b74710c52710d580e0000006c617965722e7765' +
  '696768745f74710e6803282868046805680668074b0674710f514b004b034b028671104b014b03867111896800295271' +
  '12747113527114580a0000006c617965722e62696173711568032828680463746f7263680a48616c6653746f72616765' +
  '0a7116580100000031711768074b04747118514b014b038571194b0185711a8968002952711b74711c52711d58050000' +
  '006578747261711e635f5f6275696c74696e5f5f0a6279746561727261790a711f635f636f646563730a656e636f6465' +
  '0a7120580300000078797a712158060000006c6174696e31712286712352712485712552712658040000006e6f746571' +
  '275805000000636166c3a971285805000000726174696f7129473fe00000000000005803000000626967712a8a090000' +
  '0000000000004058030000006d6964712b8a060000000000015804000000666c6167712c88752e',
);
const PICKLE_P4 = hex(
  '80049595010000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0c6c' +
  '617965722e776569676874948c0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f763294' +
  '939428288c0773746f72616765948c05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075' +
  '944b067494514b004b024b0386944b034b018694896802295294749452948c0e6c617965722e7765696768745f749468' +
  '0728286808680b680c680d4b067494514b004b034b0286944b014b038694896802295294749452948c0a6c617965722e' +
  '626961739468072828680868098c0b48616c6653746f726167659493948c013194680d4b047494514b014b0385944b01' +
  '8594896802295294749452948c056578747261948c086275696c74696e73948c09627974656172726179949394430378' +
  '797a94859452948c046e6f7465948c05636166c3a9948c05726174696f94473fe00000000000008c03626967948a0900' +
  '00000000000000408c036d6964948a060000000000018c04666c61679488752e',
);
const PICKLE_P5 = hex(
  '8005957f010000000000008c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c0c6c' +
  '617965722e776569676874948c0c746f7263682e5f7574696c73948c125f72656275696c645f74656e736f725f763294' +
  '939428288c0773746f72616765948c05746f726368948c0c466c6f617453746f726167659493948c0130948c03637075' +
  '944b067494514b004b024b0386944b034b018694896802295294749452948c0e6c617965722e7765696768745f749468' +
  '0728286808680b680c680d4b067494514b004b034b0286944b014b038694896802295294749452948c0a6c617965722e' +
  '626961739468072828680868098c0b48616c6653746f726167659493948c013194680d4b047494514b014b0385944b01' +
  '8594896802295294749452948c0565787472619496030000000000000078797a948c046e6f7465948c05636166c3a994' +
  '8c05726174696f94473fe00000000000008c03626967948a090000000000000000408c036d6964948a06000000000001' +
  '8c04666c61679488752e',
);

/** Entries of the dict (or dict-subclass call) at the root, keyed by string. */
function rootEntries(value: PickleValue): Map<string, PickleValue> {
  assert.ok(typeof value === 'object' && value !== null && (value.kind === 'dict' || value.kind === 'call'));
  const pairs = value.kind === 'dict' ? (value as PickleDict).entries : (value as PickleCall).dictItems;
  return new Map(pairs.map(([k, v]) => [String(k), v]));
}

function expectPickleError(run: () => unknown, pattern: RegExp): PickleError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof PickleError, `expected PickleError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return err;
  }
  assert.fail(`expected a PickleError matching ${pattern}`);
}

describe('pickle walker: CPython pickles of each protocol family', () => {
  const cases: Array<[string, Uint8Array, number]> = [
    ['protocol 0 text opcodes', PICKLE_P0, 0],
    ['protocol 2', PICKLE_P2, 2],
    ['protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL)', PICKLE_P4, 4],
    ['protocol 5 (BYTEARRAY8)', PICKLE_P5, 5],
  ];
  for (const [label, bytes, protocol] of cases) {
    it(`${label}: recovers the dict of tensors and plain values`, () => {
      const result = walkPickle(bytes, 'mem.pkl');
      assert.equal(result.protocol, protocol);
      assert.equal(result.end, bytes.length);
      const tensors = findTensorReferences(result.value, 'mem.pkl');
      assert.deepEqual(
        tensors.map((t) => [t.name, t.dtype, t.storage.key, t.storage.numel, t.storageOffset, t.shape, t.stride]),
        [
          ['layer.weight', 'F32', '0', 6, 0, [2, 3], [3, 1]],
          ['layer.weight_t', 'F32', '0', 6, 0, [3, 2], [1, 3]],
          ['layer.bias', 'F16', '1', 4, 1, [3], [1]],
        ],
      );
      const entries = rootEntries(result.value);
      assert.equal(entries.get('note'), 'café');
      assert.equal(entries.get('ratio'), 0.5);
      assert.equal(entries.get('big'), 2n ** 70n);
      assert.equal(entries.get('mid'), 2 ** 40);
      assert.equal(entries.get('flag'), true);
      const modules = new Set(result.globals.map((g) => `${g.module}.${g.name}`));
      assert.ok(modules.has('collections.OrderedDict') && modules.has('torch._utils._rebuild_tensor_v2') && modules.has('torch.FloatStorage'));
    });
  }

  it('protocol 4 reaches globals through STACK_GLOBAL; protocols 0 and 2 through GLOBAL', () => {
    assert.ok(walkPickle(PICKLE_P4, 'p4').globals.every((g) => g.opcode === 'STACK_GLOBAL'));
    assert.ok(walkPickle(PICKLE_P2, 'p2').globals.every((g) => g.opcode === 'GLOBAL'));
    assert.equal(PICKLE_P4[2], 0x95, 'protocol 4 pickle starts with a FRAME');
  });

  it('protocol 5 keeps a bytearray as mutable bytes; protocol 2 as a symbolic bytearray(_codecs.encode(...)) call', () => {
    const extra5 = rootEntries(walkPickle(PICKLE_P5, 'p5').value).get('extra');
    assert.deepEqual(extra5, { kind: 'bytes', bytes: Uint8Array.from(Buffer.from('xyz')), mutable: true });
    const p2 = walkPickle(PICKLE_P2, 'p2');
    const extra2 = rootEntries(p2.value).get('extra') as PickleCall;
    assert.equal(extra2.kind, 'call');
    assert.deepEqual(extra2.callee, { kind: 'global', module: '__builtin__', name: 'bytearray' });
    // _codecs.encode (numpy's bytes in protocol 2) and bytearray are harmless: no finding.
    assert.ok(p2.globals.some((g) => g.module === '_codecs' && g.name === 'encode'));
    assert.deepEqual(globalFindings(p2.globals, 'p2', 'data.pkl'), []);
  });
});

describe('pickle walker: hand-built opcode streams', () => {
  it('decodes protocol 0 text operands: STRING escapes, UNICODE escapes, FLOAT, INT booleans, LONG, PUT/GET', () => {
    const w = new PickleWriter().op('MARK');
    w.op('STRING').line(String.raw`'a\'b\n\x41\101'`);
    w.op('UNICODE').line(String.raw`caf\u00e9 \U0001f600`);
    w.op('FLOAT').line('-1.25e2').op('FLOAT').line('inf');
    w.op('INT').line('01').op('INT').line('00').op('INT').line('-42');
    w.op('LONG').line('123456789012345678901234567890L');
    w.op('PUT').line('7').op('POP').op('GET').line('7');
    w.op('LIST').op('STOP');
    const { value } = walkPickle(w.bytes(), 'p0');
    assert.ok(typeof value === 'object' && value !== null && value.kind === 'list');
    assert.deepEqual(value.items, ["a'b\nAA", 'café 😀', -125, Infinity, true, false, -42, 123456789012345678901234567890n]);
  });

  it('INST and OBJ build symbolic calls, and INST counts as an import', () => {
    const w = new PickleWriter().op('MARK').int(1).op('INST').line('os').line('system');
    w.op('MARK').global('builtins', 'complex').int(2).op('OBJ').op('TUPLE2').op('STOP');
    const result = walkPickle(w.bytes(), 'inst');
    assert.deepEqual(result.globals.map((g) => [g.module, g.name, g.opcode]), [['os', 'system', 'INST'], ['builtins', 'complex', 'GLOBAL']]);
    const [inst, obj] = (result.value as { items: PickleCall[] }).items;
    assert.equal(inst!.via, 'INST');
    assert.deepEqual(inst!.args, { kind: 'tuple', items: [1] });
    assert.equal(obj!.via, 'OBJ');
  });

  it('records STACK_GLOBAL operands that come out of the memo', () => {
    const w = new PickleWriter().proto(4).str('posix').op('MEMOIZE').str('system').op('MEMOIZE').op('POP').op('POP');
    w.op('BINGET').raw([0]).op('BINGET').raw([1]).op('STACK_GLOBAL').str('id').op('TUPLE1').op('REDUCE').op('STOP');
    const result = walkPickle(w.bytes(), 'memo');
    assert.deepEqual(result.globals.map((g) => [g.module, g.name, g.opcode, g.operandsFromMemo]), [['posix', 'system', 'STACK_GLOBAL', true]]);
    const [finding] = globalFindings(result.globals, 'memo', 'memo.pkl');
    assert.equal(finding!.severity, 'critical');
    assert.match(finding!.message, /STACK_GLOBAL with names from the memo/);
  });

  it('treats STACK_GLOBAL on non-strings as an unknown (dangerous) import', () => {
    const w = new PickleWriter().proto(4).int(1).str('system').op('STACK_GLOBAL').op('STOP');
    const result = walkPickle(w.bytes(), 'odd');
    assert.equal(result.globals[0]!.resolved, false);
    assert.equal(globalFindings(result.globals, 'odd', 'odd.pkl')[0]!.severity, 'critical');
  });

  it('reads concatenated pickles (the legacy torch preamble)', () => {
    const results = walkPickleStream(Buffer.concat(legacyPreamble()), 'stream');
    assert.equal(results.length, 3);
    assert.equal(results[0]!.value, 0x1950a86a20f9469cfc6cn);
    assert.equal(results[1]!.value, 1001);
    assert.deepEqual(rootEntries(results[2]!.value).get('little_endian'), true);
  });

  it('walks the real legacy tiny-gpt2 preamble from the zoo', () => {
    const bytes = readFileSync(zooPath('tiny-gpt2', 'pytorch_model.bin')).subarray(0, 137);
    const results = walkPickleStream(bytes, 'tiny-gpt2');
    assert.deepEqual(results.map((r) => r.end), [15, 21, 137]);
    assert.equal(results[0]!.value, 0x1950a86a20f9469cfc6cn);
  });
});

describe('pickle walker: malformed and hostile input fails fast with typed errors', () => {
  it('every truncation of a real pickle is a truncation error, never a crash', () => {
    for (let cut = 0; cut < PICKLE_P2.length; cut++) {
      const err = expectPickleError(() => walkPickle(PICKLE_P2.subarray(0, cut), 'cut.pkl'), /cut\.pkl/);
      assert.ok(err.truncated, `cut at ${cut}: ${err.message}`);
    }
  });

  it('a pickle that breaks right after its payload still reports the payload global (nullifAI)', () => {
    const evil = readFileSync(zooPath('generated', 'hostile', 'evil_proto4.pkl'));
    // Drop SETITEM and STOP: the REDUCE has run in a real unpickler, then it fails.
    const err = expectPickleError(() => walkPickle(evil.subarray(0, evil.length - 2), 'broken.pkl'), /before the STOP/);
    assert.deepEqual(err.globals.map((g) => `${g.module}.${g.name}`), ['posix.system']);
    // Same for a garbage byte instead of STOP.
    const garbled = Uint8Array.from([...evil.subarray(0, evil.length - 1), 0xff]);
    const err2 = expectPickleError(() => walkPickle(garbled, 'garbled.pkl'), /unknown opcode 0xff/);
    assert.equal(err2.offset, evil.length - 1);
    assert.deepEqual(err2.globals.map((g) => `${g.module}.${g.name}`), ['posix.system']);
  });

  it('a memo GET of a missing index is an error', () => {
    expectPickleError(() => walkPickle(new PickleWriter().proto(2).binGet(3).op('STOP').bytes(), 'memo'), /memo has no entry 3/);
    expectPickleError(() => walkPickle(new PickleWriter().op('GET').line('99').op('STOP').bytes(), 'memo'), /memo has no entry 99/);
  });

  it('nesting bombs are refused at a fixed depth', () => {
    const marks = new PickleWriter().proto(2).raw(new Uint8Array(1_000_000).fill(0x28)).op('STOP').bytes();
    expectPickleError(() => walkPickle(marks, 'marks'), /nested MARKs/);
    const tuples = new PickleWriter().proto(2).op('EMPTY_TUPLE');
    for (let i = 0; i < 100_000; i++) tuples.op('TUPLE1');
    expectPickleError(() => walkPickle(tuples.op('STOP').bytes(), 'tuples'), /nest deeper than 1000/);
  });

  it('nesting built by filling lists after they were inserted is caught by the graph walk', () => {
    // L0 -> L1 -> L2 ...: each list is appended to its parent while still empty, so its depth grows later.
    const w = new PickleWriter().proto(2).op('EMPTY_LIST').binPut(1).binPut(0);
    for (let i = 0; i < 100_000; i++) w.op('EMPTY_LIST').binPut(0).op('APPEND').op('POP').binGet(0);
    const started = Date.now();
    const { value } = walkPickle(w.op('POP').binGet(1).op('STOP').bytes(), 'lists');
    assert.throws(() => findTensorReferences(value, 'lists'), (err: Error) => err instanceof ModelFormatError && /nests deeper than/.test(err.message));
    assert.ok(Date.now() - started < 2000);
  });

  it('huge length prefixes are checked against the remaining bytes before anything is allocated', () => {
    const started = Date.now();
    const prefixes = [
      new PickleWriter().proto(2).op('BINUNICODE').u32(0xfffffff0),
      new PickleWriter().proto(3).op('BINBYTES').u32(0xffffffff),
      new PickleWriter().proto(4).op('BINBYTES8').u64(2 ** 50),
      new PickleWriter().proto(4).op('BINUNICODE8').u64(2 ** 40),
      new PickleWriter().proto(5).op('BYTEARRAY8').u64(2 ** 45),
      new PickleWriter().proto(2).op('LONG4').u32(0x7fffffff),
      new PickleWriter().proto(2).op('BINSTRING').u32(0x7fffffff),
    ];
    for (const w of prefixes) expectPickleError(() => walkPickle(w.raw([1, 2, 3]).bytes(), 'len'), /runs past the end/);
    expectPickleError(() => walkPickle(new PickleWriter().proto(4).op('BINBYTES8').u64(2n ** 63n).bytes(), 'len'), /absurd/);
    expectPickleError(() => walkPickle(new PickleWriter().proto(2).op('BINSTRING').u32(0xffffffff).bytes(), 'len'), /negative BINSTRING/);
    assert.ok(Date.now() - started < 1000);
  });

  it('stack underflow, MARK misuse and protocol errors are typed errors', () => {
    expectPickleError(() => walkPickle(Uint8Array.of(0x2e), 'stop'), /stack underflow at STOP/);
    expectPickleError(() => walkPickle(new PickleWriter().int(1).op('MARK').op('REDUCE').op('STOP').bytes(), 'frame'), /stack underflow at REDUCE/);
    expectPickleError(() => walkPickle(new PickleWriter().op('TUPLE').bytes(), 'tuple'), /TUPLE without a MARK/);
    expectPickleError(() => walkPickle(new PickleWriter().proto(6).op('NONE').op('STOP').bytes(), 'proto'), /unsupported pickle protocol 6/);
    expectPickleError(() => walkPickle(new PickleWriter().op('MARK').int(1).op('DICT').op('STOP').bytes(), 'dict'), /key\/value pairs/);
    expectPickleError(() => walkPickle(new PickleWriter().int(1).int(2).op('APPEND').op('STOP').bytes(), 'append'), /APPEND on a number/);
  });

  it('opcode and memo limits hold', () => {
    const many = new PickleWriter().proto(2);
    for (let i = 0; i < 200; i++) many.op('NONE').op('POP');
    expectPickleError(() => walkPickle(many.op('NONE').op('STOP').bytes(), 'ops', { limits: { maxOpcodes: 100 } }), /more than 100 opcodes/);
    const memo = new PickleWriter().proto(4).op('NONE');
    for (let i = 0; i < 20; i++) memo.op('MEMOIZE');
    expectPickleError(() => walkPickle(memo.op('STOP').bytes(), 'memo', { limits: { maxMemo: 10 } }), /memo exceeds 10/);
  });
});

describe('pickle safety classification', () => {
  const ref = (module: string, name: string) => ({ module, name, resolved: true, opcode: 'GLOBAL' as const });
  it('allowlists what torch weights need', () => {
    for (const [m, n] of [
      ['collections', 'OrderedDict'], ['torch._utils', '_rebuild_tensor_v2'], ['torch._utils', '_rebuild_parameter'],
      ['torch', 'FloatStorage'], ['torch', 'BFloat16Storage'], ['torch', 'float32'], ['torch', 'Size'],
      ['torch.storage', 'UntypedStorage'], ['torch._tensor', '_rebuild_from_type_v2'], ['numpy.core.multiarray', '_reconstruct'],
      ['numpy', 'dtype'], ['builtins', 'set'],
    ]) {
      assert.equal(classifyGlobal(ref(m!, n!)).verdict, 'allowed', `${m}.${n}`);
    }
  });
  it('flags code-execution gadgets as critical, including submodules and dotted names', () => {
    for (const [m, n] of [
      ['posix', 'system'], ['os', 'system'], ['os.path', 'join'], ['nt', 'system'], ['subprocess', 'Popen'],
      ['builtins', 'eval'], ['__builtin__', 'exec'], ['builtins', 'getattr'], ['runpy', '_run_code'],
      ['functools', 'partial'], ['operator', 'attrgetter'], ['torch.serialization', 'load'], ['torch', 'serialization.load'],
      ['webbrowser', 'open'], ['requests.api', 'get'], ['ctypes', 'CDLL'], ['pickle', 'loads'], ['_pickle', 'loads'],
    ]) {
      const c = classifyGlobal(ref(m!, n!));
      assert.equal(c.severity, 'critical', `${m}.${n}`);
      assert.equal(c.verdict, 'dangerous');
    }
  });
  it('everything else is an unknown global; TorchScript classes are code references only in TorchScript archives', () => {
    assert.deepEqual(classifyGlobal(ref('mylib.layers', 'Block')).severity, 'medium');
    assert.equal(classifyGlobal(ref('__torch__.vad', 'Model')).severity, 'medium');
    assert.equal(classifyGlobal(ref('__torch__.vad', 'Model'), { torchscript: true }).severity, 'info');
    assert.equal(classifyGlobal(ref('_codecs', 'encode')).verdict, 'allowed');
    assert.equal(classifyGlobal({ module: '<copyreg extension>', name: '7', resolved: false, opcode: 'EXT' }).severity, 'medium');
  });
});
