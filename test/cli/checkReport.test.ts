// The pure parts of `lineage check`'s output: severities as CI levels, --fail-on, the summary line,
// and colours only on a terminal without NO_COLOR.
import * as assert from 'node:assert/strict';
import { coloursFor, levelOf, meetsFailOn, summaryLine } from '../../server/src/cli/checkReport';

describe('lineage check report', () => {
  it('maps LSP severities to CI levels: information and hint are notes', () => {
    assert.deepEqual((['error', 'warning', 'information', 'hint'] as const).map(levelOf), ['error', 'warning', 'note', 'note']);
  });

  it('fails at or above the --fail-on level, never with never', () => {
    assert.deepEqual((['error', 'warning', 'note'] as const).map((l) => meetsFailOn(l, 'warning')), [true, true, false]);
    assert.deepEqual((['error', 'warning', 'note'] as const).map((l) => meetsFailOn(l, 'note')), [true, true, true]);
    assert.deepEqual((['error', 'warning', 'note'] as const).map((l) => meetsFailOn(l, 'error')), [true, false, false]);
    assert.deepEqual((['error', 'warning', 'note'] as const).map((l) => meetsFailOn(l, 'never')), [false, false, false]);
  });

  it('says "12 references, 3 warnings, 0 errors", with notes only when there are some', () => {
    assert.equal(summaryLine({ references: 12, warnings: 3, errors: 0, notes: 0 }), '12 references, 3 warnings, 0 errors');
    assert.equal(summaryLine({ references: 1, warnings: 1, errors: 1, notes: 2 }), '1 reference, 1 warning, 1 error, 2 notes');
  });

  it('colours only a terminal, and never with NO_COLOR or TERM=dumb', () => {
    assert.match(coloursFor({ isTTY: true }, {}).level('error', 'x'), /\x1b\[31m/);
    assert.equal(coloursFor({ isTTY: true }, { NO_COLOR: '1' }).level('error', 'x'), 'x');
    assert.equal(coloursFor({ isTTY: true }, { TERM: 'dumb' }).level('error', 'x'), 'x');
    assert.equal(coloursFor({ isTTY: false }, {}).level('error', 'x'), 'x');
    assert.equal(coloursFor({}, {}).bold('x'), 'x');
  });
});
