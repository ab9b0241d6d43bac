// The per-workspace byte budget of remote fingerprints (reservations never exceed the total, waiting
// for jobs that hold the rest, spent once too little is left) and the settings that switch them.
import * as assert from 'node:assert/strict';
import { MIN_REMOTE_RESERVATION_BYTES, RemoteReadBudget } from '../../server/src/analysis/remoteFingerprints';
import { DEFAULT_SETTINGS, parseSettings } from '../../server/src/lsp/settings';

const MiB = 1024 * 1024;

describe('RemoteReadBudget', () => {
  it('reserves at most what is left, gives back what a job did not receive, and is spent when too little is left', async () => {
    const budget = new RemoteReadBudget(() => 10 * MiB);
    const first = await budget.reserve(4 * MiB);
    assert.equal(first, 4 * MiB);
    const second = await budget.reserve(256 * MiB);
    assert.equal(second, 6 * MiB, 'the rest of the total, not the per-model cap');
    budget.settle(first!, 1 * MiB);
    budget.settle(second!, 6 * MiB);
    assert.equal(budget.spent, 7 * MiB);
    assert.equal(await budget.reserve(256 * MiB), 3 * MiB);
    budget.settle(3 * MiB, 3 * MiB - MIN_REMOTE_RESERVATION_BYTES / 2);
    assert.ok(budget.isSpent(), 'less than a minimal reservation is left');
    assert.equal(await budget.reserve(1 * MiB), undefined);
  });

  it('makes a job wait while others hold the rest, and wakes it when they settle', async () => {
    const budget = new RemoteReadBudget(() => 2 * MiB);
    const held = await budget.reserve(2 * MiB);
    let granted: number | undefined | 'waiting' = 'waiting';
    const waiting = budget.reserve(1 * MiB).then((r) => (granted = r));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(granted, 'waiting');
    budget.settle(held!, 512 * 1024);
    await waiting;
    assert.equal(granted, 1 * MiB);
  });

  it('once marked exhausted refuses every reservation until reopened (the setting changed)', async () => {
    let total = 4 * MiB;
    const budget = new RemoteReadBudget(() => total);
    budget.markExhausted();
    assert.equal(await budget.reserve(MiB), undefined);
    total = 8 * MiB;
    budget.reopen();
    assert.equal(await budget.reserve(MiB), MiB);
  });

  it('gives up a wait when the caller is cancelled', async () => {
    const budget = new RemoteReadBudget(() => MiB);
    await budget.reserve(MiB);
    const controller = new AbortController();
    const waiting = budget.reserve(MiB, controller.signal);
    controller.abort();
    await assert.rejects(waiting, { name: 'CancelledError' });
  });
});

describe('lineage.hub.remoteFingerprint and remoteBudgetBytes settings', () => {
  it('default to auto and 512 MiB, accept off, and ignore anything else', () => {
    assert.equal(DEFAULT_SETTINGS.hub.remoteFingerprint, 'auto');
    assert.equal(DEFAULT_SETTINGS.hub.remoteBudgetBytes, 512 * MiB);
    assert.equal(parseSettings({ hub: { remoteFingerprint: 'off' } }).hub.remoteFingerprint, 'off');
    assert.equal(parseSettings({ hub: { remoteFingerprint: 'always' } }).hub.remoteFingerprint, 'auto');
    assert.equal(parseSettings({ hub: { remoteBudgetBytes: 3 * MiB } }).hub.remoteBudgetBytes, 3 * MiB);
    assert.equal(parseSettings({ hub: { remoteBudgetBytes: -1 } }).hub.remoteBudgetBytes, 512 * MiB);
    assert.equal(parseSettings({ hub: { remoteBudgetBytes: 'lots' } }).hub.remoteBudgetBytes, 512 * MiB);
  });
});
