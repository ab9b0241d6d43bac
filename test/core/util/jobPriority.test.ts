// Priorities carried by cancellation signals: the most urgent entry is picked, FIFO among equals, and a
// shared job is as urgent as the most urgent caller still waiting for it.
import { strict as assert } from 'node:assert';
import { attachPriority, indexOfMostUrgent, JobPriority, priorityOf } from '../../../server/src/core/util/jobPriority';
import { SharedWork } from '../../../server/src/core/util/sharedWork';

function signalWith(priority: number): AbortController {
  const controller = new AbortController();
  attachPriority(controller.signal, () => priority);
  return controller;
}

describe('job priorities', () => {
  it('counts work without a priority as interactive', () => {
    assert.equal(priorityOf(undefined), JobPriority.interactive);
    assert.equal(priorityOf(new AbortController().signal), JobPriority.interactive);
  });

  it('reads a live priority each time', () => {
    let level: number = JobPriority.background;
    const controller = new AbortController();
    attachPriority(controller.signal, () => level);
    assert.equal(priorityOf(controller.signal), JobPriority.background);
    level = JobPriority.interactive;
    assert.equal(priorityOf(controller.signal), JobPriority.interactive);
  });

  it('picks the lowest priority, the earliest among equals', () => {
    const entries = [
      { sequence: 0, p: 2 },
      { sequence: 1, p: 1 },
      { sequence: 2, p: 1 },
      { sequence: 3, p: 2 },
    ];
    assert.equal(indexOfMostUrgent(entries, (e) => e.p), 1);
    assert.equal(indexOfMostUrgent([], () => 0), -1);
  });

  it('gives a shared job the priority of its most urgent waiter, and drops it when that waiter leaves', async () => {
    const work = new SharedWork<string>(4);
    let jobSignal: AbortSignal | undefined;
    let finish!: (value: string) => void;
    const background = signalWith(JobPriority.background);
    const first = work.run('key', (signal) => {
      jobSignal = signal;
      return new Promise<string>((resolve) => (finish = resolve));
    }, background.signal);
    assert.equal(priorityOf(jobSignal), JobPriority.background);

    const interactive = signalWith(JobPriority.interactive);
    const second = work.run('key', () => Promise.reject(new Error('a second job must not start')), interactive.signal);
    assert.equal(priorityOf(jobSignal), JobPriority.interactive);

    interactive.abort();
    await assert.rejects(second, /cancel/i);
    assert.equal(priorityOf(jobSignal), JobPriority.background);
    assert.equal(jobSignal!.aborted, false, 'the background caller still waits');

    finish('done');
    assert.equal(await first, 'done');
  });
});
