import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelFormatError, UnsupportedError } from '../../../server/src/core/errors';
import { BufferSource, LocalFileSource } from '../../../server/src/core/io/byteSource';
import { readSafetensorsFile } from '../../../server/src/core/formats/safetensors';
import { TensorStore } from '../../../server/src/core/formats/tensorStore';
import type { TensorInfo } from '../../../server/src/core/formats/types';
import { writeSafetensors } from '../../fixtures/safetensorsWriter';

const ROWS = 10;
const COLS = 4;
/** Element (r, c) of the test matrix is r * 100 + c, so every value says where it came from. */
const matrix = Float32Array.from({ length: ROWS * COLS }, (_, i) => Math.floor(i / COLS) * 100 + (i % COLS));
const rowOf = (r: number): number[] => Array.from({ length: COLS }, (_, c) => r * 100 + c);

describe('TensorStore', () => {
  let dir: string;
  let file: string;
  let tensors: TensorInfo[];
  /** Every source the store opened, so tests can inspect read statistics. */
  let opened: LocalFileSource[];
  let store: TensorStore;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'lineage-tensorstore-'));
    file = path.join(dir, 'matrix.safetensors');
    await writeSafetensors(file, {
      matrix: { dtype: 'F32', shape: [ROWS, COLS], data: matrix },
      halves: { dtype: 'F16', shape: [4], data: [0.5, -1, 2, 1024] },
    });
    tensors = (await readSafetensorsFile(file)).tensors;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    opened = [];
    store = new TensorStore(tensors, async (p) => {
      const source = await LocalFileSource.open(p);
      opened.push(source);
      return source;
    });
  });
  afterEach(async () => {
    await store.close();
  });

  it('reads a run of adjacent rows with one positional read of exactly their bytes', async () => {
    const rows = await store.readRows('matrix', 3, 4);
    assert.deepEqual([...rows], [3, 4, 5, 6].flatMap(rowOf));
    assert.equal(opened.length, 1);
    assert.deepEqual(opened[0]!.stats, { reads: 1, bytesRead: 4 * COLS * 4 });
    assert.equal(await store.bytesRead(), 4 * COLS * 4);
  });

  it('coalesces scattered rows into one read per contiguous run, whatever the request order', async () => {
    await store.readRowSet('matrix', [9, 1, 5, 2, 6]);
    // Runs: {1,2}, {5,6}, {9}.
    assert.deepEqual(opened[0]!.stats, { reads: 3, bytesRead: 5 * COLS * 4 });
  });

  it('returns rows in the requested order, duplicates included', async () => {
    const rows = await store.readRowSet('matrix', [7, 2, 7, 0]);
    assert.deepEqual([...rows], [7, 2, 7, 0].flatMap(rowOf));
  });

  it('opens each file once across many reads', async () => {
    await store.readRows('matrix', 0, 1);
    await store.readRows('halves', 0, 4);
    await store.readRows('matrix', 5, 1);
    assert.equal(opened.length, 1);
  });

  it('rejects rows outside the tensor, negative or fractional, before reading anything', async () => {
    for (const bad of [-1, ROWS, 1.5]) {
      await assert.rejects(store.readRowSet('matrix', [0, bad]), (err: unknown) =>
        err instanceof UnsupportedError && err.message.includes(`row ${bad} is outside 0..${ROWS - 1}`));
    }
    assert.equal(await store.bytesRead(), 0);
  });

  it('rejects an unknown tensor name', async () => {
    await assert.rejects(store.readRows('nope', 0, 1), /no tensor named nope/);
  });

  it('reads a range of elements of the flattened tensor', async () => {
    const values = await store.readElements('matrix', 6, 5);
    assert.deepEqual([...values], [102, 103, 200, 201, 202]);
    assert.deepEqual(opened[0]!.stats, { reads: 1, bytesRead: 5 * 4 });
    await assert.rejects(store.readElements('matrix', 38, 3), /outside 0\.\.40/);
  });

  it('reads a whole tensor, and refuses one above the decode limit', async () => {
    assert.deepEqual([...(await store.readAll('halves'))], [0.5, -1, 2, 1024]);
    assert.deepEqual([...(await store.readAll('matrix'))], [...matrix]);
    await assert.rejects(store.readAll('matrix', ROWS * COLS - 1), (err: unknown) =>
      err instanceof UnsupportedError && /40 elements exceed the decode limit of 39/.test(err.message));
  });

  it('treats a 1-D tensor as rows of one element', async () => {
    assert.deepEqual(store.rowShape('halves'), { rows: 4, rowElements: 1 });
    assert.deepEqual([...(await store.readRowSet('halves', [3, 0]))], [1024, 0.5]);
  });

  describe('strided (transposed) views', () => {
    /** The matrix seen transposed: shape [COLS, ROWS], element (i, j) = matrix[j][i], strides [1, COLS]. */
    function transposedStore(overrides: Partial<TensorInfo> = {}): TensorStore {
      const base = tensors.find((t) => t.name === 'matrix')!;
      return new TensorStore([{ ...base, name: 'matrixT', shape: [COLS, ROWS], strides: [1, COLS], ...overrides }]);
    }

    it('gathers rows of the view from the underlying storage', async () => {
      const view = transposedStore();
      try {
        const rows = await view.readRowSet('matrixT', [2, 0]);
        const column = (c: number): number[] => Array.from({ length: ROWS }, (_, r) => r * 100 + c);
        assert.deepEqual([...rows], [...column(2), ...column(0)]);
        const all = await view.readAll('matrixT');
        assert.deepEqual([...all], [0, 1, 2, 3].flatMap(column));
      } finally {
        await view.close();
      }
    });

    it('gathers a view whose storage spans several read windows (bounded memory, whatever the span)', async () => {
      // [3, 2_000_001] stored, seen as [2_000_001, 3]: 6M elements, more than one 4M-element window.
      const storedCols = 2_000_001;
      const stored = new Float32Array(3 * storedCols);
      for (let i = 0; i < stored.length; i++) stored[i] = i % 1_000_003;
      const bytes = Buffer.from(stored.buffer);
      const source = new BufferSource('/memory/wide.bin', new Uint8Array(bytes));
      const view = new TensorStore(
        [{ name: 'wideT', dtype: 'F32', shape: [storedCols, 3], strides: [1, storedCols], file: '/memory/wide.bin', dataOffset: 0, byteLength: bytes.length }],
        async () => source,
      );
      const rows = [storedCols - 1, 0, 1_234_567];
      const values = await view.readRowSet('wideT', rows);
      rows.forEach((r, slot) => {
        for (let c = 0; c < 3; c++) assert.equal(values[slot * 3 + c], stored[c * storedCols + r]);
      });
      assert.ok(source.stats.bytesRead > 0 && source.stats.bytesRead <= bytes.length, `read ${source.stats.bytesRead} of ${bytes.length} bytes`);
    });

    it('refuses strides that reach past the tensor storage', async () => {
      const view = transposedStore({ strides: [1, COLS + 1] });
      try {
        await assert.rejects(view.readAll('matrixT'), (err: unknown) =>
          err instanceof ModelFormatError && /strides reach past the tensor's storage/.test(err.message));
      } finally {
        await view.close();
      }
    });
  });
});
