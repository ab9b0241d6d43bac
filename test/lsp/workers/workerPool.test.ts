// The worker pool runs queued jobs most urgent first (the priority their signal carries, read when a
// worker frees up), first come first served among equals, and drops a cancelled queued job at once.
// Real worker threads (dist/worker.js); each resolution is held by the worker's test hook so jobs queue.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { CancelledError } from '../../../server/src/core/util/cancellation';
import { attachPriority, JobPriority } from '../../../server/src/core/util/jobPriority';
import { WorkerPool } from '../../../server/src/lsp/workers/workerPool';

const WORKER_FILE = path.resolve(__dirname, '..', '..', '..', 'dist', 'worker.js');
const BLOCK_MS = 150;

function prioritised(priority: () => number): AbortController {
  const controller = new AbortController();
  attachPriority(controller.signal, priority);
  return controller;
}

describe('WorkerPool', function () {
  this.timeout(60_000);
  let pool: WorkerPool;

  before(() => {
    // A worker thread copies process.env when it starts: the hook applies to this pool only.
    process.env['LINEAGE_LSP_TEST_RESOLVE_BLOCK_MS'] = String(BLOCK_MS);
    try {
      pool = new WorkerPool(WORKER_FILE, 1);
    } finally {
      delete process.env['LINEAGE_LSP_TEST_RESOLVE_BLOCK_MS'];
    }
  });

  after(async () => {
    await pool?.dispose();
  });

  const resolveJob = (finished: string[], name: string, signal?: AbortSignal): Promise<void> =>
    pool.run('resolve', { inputs: [], workspaceFolders: [], cacheRoots: [] }, signal ? { signal } : {}).then(() => void finished.push(name));

  it('runs queued jobs by priority, first come first served among equals', async () => {
    const finished: string[] = [];
    const running = resolveJob(finished, 'running');
    const jobs = [
      resolveJob(finished, 'background 1', prioritised(() => JobPriority.background).signal),
      resolveJob(finished, 'background 2', prioritised(() => JobPriority.background).signal),
      resolveJob(finished, 'visible', prioritised(() => JobPriority.visible).signal),
      resolveJob(finished, 'interactive', prioritised(() => JobPriority.interactive).signal),
    ];
    await Promise.all([running, ...jobs]);
    assert.deepEqual(finished, ['running', 'interactive', 'visible', 'background 1', 'background 2']);
  });

  it('reads priorities when a worker frees up: a document brought forward moves its queued job up', async () => {
    const finished: string[] = [];
    let raised: number = JobPriority.background;
    const running = resolveJob(finished, 'running');
    const first = resolveJob(finished, 'queued first', prioritised(() => JobPriority.background).signal);
    const second = resolveJob(finished, 'raised while queued', prioritised(() => raised).signal);
    raised = JobPriority.interactive;
    await Promise.all([running, first, second]);
    assert.deepEqual(finished, ['running', 'raised while queued', 'queued first']);
  });

  it('drops a cancelled queued job at once, without running it', async () => {
    const finished: string[] = [];
    const running = resolveJob(finished, 'running');
    const controller = prioritised(() => JobPriority.background);
    const superseded = resolveJob(finished, 'superseded', controller.signal);
    assert.equal(pool.load, 2);
    controller.abort();
    await assert.rejects(superseded, CancelledError);
    assert.equal(pool.load, 1, 'only the running job is left');
    await running;
    assert.deepEqual(finished, ['running']);
  });
});
