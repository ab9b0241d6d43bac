// bench:soak in miniature: the script runs end to end against the built server (a few documents, a
// few seconds) and reports every measure. It checks that the benchmark works, not how fast anything is.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';

const REPO_ROOT = path.resolve(__dirname, '..', '..');

describe('bench:soak (a short run)', function () {
  this.timeout(180_000);

  it('opens, edits and queries the documents, and prints every measure without a crash', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['-r', 'tsx/cjs', 'scripts/bench/soak.ts', '--documents', '30', '--seconds', '3'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.match(stdout, /^soak: 30 documents opened/m);
    assert.match(stdout, /\b125 edits \(13 to the active document/);
    for (const measure of ['diagnostics after an active edit', 'hover', 'code lens', 'code action']) {
      const line = stdout.split('\n').find((l) => l.startsWith(measure.padEnd(34)));
      assert.ok(line, `a line for ${measure}`);
      assert.match(line, /n=\s*[1-9]\d*\s+p50\s+\d+\.\d ms\s+p99\s+\d+\.\d ms/, `${measure} has samples`);
    }
    assert.match(stdout, /^peak RSS of the server process \(worker threads included\): [1-9]\d* MB/m);
    assert.match(stdout, /^no crash$/m);
  });
});
