import { strict as assert } from 'node:assert';
import { decodeToFloat32 } from '../../../server/src/core/formats/dtypes';

describe('dtypes', () => {
  it('decodes IEEE half precision', () => {
    const bytes = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c, 0x01, 0x00]);
    assert.deepEqual([...decodeToFloat32('F16', bytes, 4, 'x')], [1, -2, Infinity, 2 ** -24]);
  });
});
