// `fingerprint`, `compare` and `scan` report dangerous pickle findings on stderr (and in --json) and
// exit 4 under --fail-on-danger; a clean model exits as before. Runs the built CLI on generated models.
import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { manyTensorSafetensors } from '../fixtures/hostileInputs';
import { PickleWriter } from '../fixtures/pickleWriter';
import { runCli } from '../support/cli';

describe('CLI: dangerous findings in fingerprint / compare / scan', function () {
  this.timeout(120_000);
  let tmp: string;
  let hostile: string;
  let clean: string;
  before(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'lineage-cli-danger-'));
    hostile = path.join(tmp, 'hostile');
    clean = path.join(tmp, 'clean');
    await mkdir(hostile);
    await mkdir(clean);
    // Weights are read from safetensors; the pickle beside them is what from_pretrained might load.
    await writeFile(path.join(hostile, 'model.safetensors'), manyTensorSafetensors(8));
    await writeFile(path.join(clean, 'model.safetensors'), manyTensorSafetensors(8));
    const payload = new PickleWriter().proto(2).global('torch.utils.collect_env', 'run').str('id').op('TUPLE1').op('REDUCE').op('STOP').bytes();
    await writeFile(path.join(hostile, 'training_args.bin'), payload);
  });
  after(async () => {
    await rm(tmp, { recursive: true, force: true });
  });

  it('fingerprint warns on stderr, exits 0 by default and 4 with --fail-on-danger', () => {
    const plain = runCli(['fingerprint', hostile]);
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stderr, /warning: .* dangerous finding.*\n.*torch\.utils\.collect_env\.run.*process gadget/);
    const strict = runCli(['fingerprint', hostile, '--fail-on-danger']);
    assert.equal(strict.status, 4, strict.stderr);
    const calm = runCli(['fingerprint', clean, '--fail-on-danger']);
    assert.equal(calm.status, 0, calm.stderr);
    assert.doesNotMatch(calm.stderr, /warning/);
  });

  it('compare lists findings per side in --json and exits 4 with --fail-on-danger', () => {
    const run = runCli(['compare', clean, hostile, '--json', '--fail-on-danger']);
    assert.equal(run.status, 4, run.stderr);
    const json = JSON.parse(run.stdout) as { verdict: string; securityFindings: { A: unknown[]; B: Array<{ code: string; severity: string }> } };
    assert.equal(json.securityFindings.A.length, 0);
    assert.ok(json.securityFindings.B.some((f) => f.code === 'pickle-dangerous-global' && f.severity === 'critical'));
    assert.match(run.stderr, /warning: .*hostile/);
  });

  it('scan warns and exits 4 with --fail-on-danger (embedded registry)', () => {
    const run = runCli(['scan', hostile, '--json', '--fail-on-danger']);
    assert.equal(run.status, 4, run.stderr);
    const json = JSON.parse(run.stdout) as { securityFindings: Array<{ code: string }> };
    assert.ok(json.securityFindings.some((f) => f.code === 'pickle-dangerous-global'));
  });
});
