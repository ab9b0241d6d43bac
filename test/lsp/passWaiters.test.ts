import { strict as assert } from 'node:assert';
import { PassWaiters } from '../../server/src/lsp/passWaiters';

/** Whether `promise` has settled once pending callbacks ran, and with what. */
async function settledValue<T>(promise: Promise<T> | undefined): Promise<{ settled: boolean; value?: T }> {
  let result: { settled: boolean; value?: T } = { settled: false };
  void promise?.then((value) => (result = { settled: true, value }));
  await new Promise((resolve) => setImmediate(resolve));
  return result;
}

describe('PassWaiters (what hovers and lenses wait for while a document is analysed)', () => {
  it('keeps one pending promise per stage however many passes supersede each other unsettled', async () => {
    const waiters = new PassWaiters<string>();
    assert.equal(waiters.resolved, undefined);
    waiters.startPass();
    const first = waiters.resolved;
    const firstComplete = waiters.complete;
    let last = waiters.startPass();
    for (let edit = 0; edit < 10_000; edit++) last = waiters.startPass();
    assert.equal(waiters.resolved, first, 'a new promise per edit is the chain that leaked');
    assert.equal(waiters.complete, firstComplete);
    last.resolved('v10001 resolved');
    assert.deepEqual(await settledValue(first), { settled: true, value: 'v10001 resolved' });
    assert.equal((await settledValue(firstComplete)).settled, false, 'the complete stage waits for its own settle');
    last.complete('v10001 complete');
    assert.deepEqual(await settledValue(firstComplete), { settled: true, value: 'v10001 complete' });
  });

  it('ignores a superseded pass: its waiters get the newer pass value', async () => {
    const waiters = new PassWaiters<string>();
    const old = waiters.startPass();
    const newer = waiters.startPass();
    old.resolved('stale');
    old.complete('stale');
    assert.equal((await settledValue(waiters.resolved)).settled, false);
    newer.resolved('fresh');
    assert.deepEqual(await settledValue(waiters.resolved), { settled: true, value: 'fresh' });
  });

  it('starts new promises once a pass settled them, so later waiters wait for later versions', async () => {
    const waiters = new PassWaiters<string>();
    waiters.startPass().resolved('v1');
    const settledOne = waiters.resolved;
    waiters.startPass();
    assert.notEqual(waiters.resolved, settledOne);
    assert.equal((await settledValue(waiters.resolved)).settled, false);
  });

  it('settles every waiter when the document closes, and no pass settles anything afterwards', async () => {
    const waiters = new PassWaiters<string>();
    const pass = waiters.startPass();
    waiters.settleAll('last published');
    pass.resolved('too late');
    assert.deepEqual(await settledValue(waiters.resolved), { settled: true, value: 'last published' });
    assert.deepEqual(await settledValue(waiters.complete), { settled: true, value: 'last published' });
  });
});
