// The scheduler of document analyses: urgent documents start at once, the backlog runs a few at a time,
// most recently edited first, and a document shown or asked about starts its waiting pass at once.
import { strict as assert } from 'node:assert';
import { JobPriority } from '../../server/src/core/util/jobPriority';
import { AnalysisScheduler } from '../../server/src/lsp/analysisScheduler';

/** A pass that records its start and settles when the test says so. */
class Passes {
  readonly started: string[] = [];
  private readonly finishers = new Map<string, () => void>();

  pass(uri: string): () => Promise<void> {
    return () => {
      this.started.push(uri);
      return new Promise<void>((resolve) => this.finishers.set(uri, resolve));
    };
  }

  async finish(uri: string): Promise<void> {
    this.finishers.get(uri)!();
    // The scheduler starts the next pass once the finished one's promise settled.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('AnalysisScheduler', () => {
  it('runs the backlog through its slots, most recently edited first, then first submitted', async () => {
    const scheduler = new AnalysisScheduler(2);
    const passes = new Passes();
    for (const uri of ['a', 'b', 'c', 'd', 'e']) scheduler.submit(uri, passes.pass(uri));
    assert.deepEqual(passes.started, ['a', 'b']);
    assert.equal(scheduler.waitingCount, 3);
    // An edit of a waiting document moves it first (and, with no client report, makes it the edited one).
    scheduler.edited('e');
    assert.deepEqual(passes.started, ['a', 'b', 'e'], 'the edited document starts at once');
    scheduler.edited('x');
    assert.equal(scheduler.priorityOf('e'), JobPriority.background, 'a later edit elsewhere takes over');
    await passes.finish('a');
    assert.deepEqual(passes.started, ['a', 'b', 'e', 'c']);
    await passes.finish('b');
    assert.deepEqual(passes.started, ['a', 'b', 'e', 'c', 'd']);
  });

  it('without a client report, keeps the document typed in first when a tool edits other files once', () => {
    const scheduler = new AnalysisScheduler(1);
    for (let k = 0; k < 5; k++) scheduler.edited('typing', 1_000 + k * 200);
    for (const [k, uri] of ['renamed-1', 'renamed-2', 'renamed-3'].entries()) scheduler.edited(uri, 2_000 + k);
    assert.equal(scheduler.priorityOf('typing'), JobPriority.interactive);
    assert.equal(scheduler.priorityOf('renamed-3'), JobPriority.background);
    // Switching files: a few keystrokes in another document hand the place over.
    for (let k = 0; k < 6; k++) scheduler.edited('next', 3_000 + k * 200);
    assert.equal(scheduler.priorityOf('next'), JobPriority.interactive);
    assert.equal(scheduler.priorityOf('typing'), JobPriority.background);
  });

  it('starts the document being edited at once, whatever the backlog', () => {
    const scheduler = new AnalysisScheduler(1);
    const passes = new Passes();
    scheduler.submit('a', passes.pass('a'));
    scheduler.submit('b', passes.pass('b'));
    scheduler.edited('typed');
    scheduler.submit('typed', passes.pass('typed'));
    assert.deepEqual(passes.started, ['a', 'typed']);
    assert.equal(scheduler.priorityOf('typed'), JobPriority.interactive);
  });

  it('follows what the client shows once it reports it: focused, visible, then the rest', () => {
    const scheduler = new AnalysisScheduler(1);
    const passes = new Passes();
    for (const uri of ['a', 'b', 'c', 'd']) scheduler.submit(uri, passes.pass(uri));
    scheduler.setVisible(['c', 'd'], 'd');
    assert.deepEqual(passes.started, ['a', 'c', 'd']);
    assert.equal(scheduler.priorityOf('d'), JobPriority.interactive);
    assert.equal(scheduler.priorityOf('c'), JobPriority.visible);
    // An edit outside the editor's view (a refactoring) is not the user typing there.
    scheduler.edited('b');
    assert.equal(scheduler.priorityOf('b'), JobPriority.background);
    assert.deepEqual(passes.started, ['a', 'c', 'd']);
  });

  it('starts a waiting document someone asks about, and drops the waiting pass of a closed one', () => {
    const scheduler = new AnalysisScheduler(1);
    const passes = new Passes();
    for (const uri of ['a', 'b', 'c']) scheduler.submit(uri, passes.pass(uri));
    scheduler.startNow('c');
    assert.deepEqual(passes.started, ['a', 'c']);
    assert.equal(scheduler.priorityOf('c'), JobPriority.visible);
    scheduler.forget('b');
    assert.equal(scheduler.waitingCount, 0);
  });

  it('replaces a waiting pass of the same document with the newer one', async () => {
    const scheduler = new AnalysisScheduler(1);
    const passes = new Passes();
    scheduler.submit('a', passes.pass('a'));
    scheduler.submit('b', passes.pass('b (old)'));
    scheduler.submit('b', passes.pass('b (new)'));
    assert.equal(scheduler.waitingCount, 1);
    await passes.finish('a');
    assert.deepEqual(passes.started, ['a', 'b (new)']);
  });
});
