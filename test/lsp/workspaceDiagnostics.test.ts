// The workspace pull's budget policy (lsp/features/workspaceDiagnostics.ts) with a scripted clock: full
// analyses until the budget is spent, then resolution-only reports that later pulls upgrade.
import * as assert from 'node:assert/strict';
import type { Diagnostic, WorkDoneProgressReporter } from 'vscode-languageserver';
import { WorkspaceDiagnostics, type WorkspaceDiagnosticsHost } from '../../server/src/lsp/features/workspaceDiagnostics';
import type { DocumentAnalysis } from '../../server/src/analysis/documentAnalysis';

const silent: WorkDoneProgressReporter = { begin: () => undefined, report: () => undefined, done: () => undefined };

describe('workspace diagnostics budget', () => {
  it('analyses fully within the budget, resolves only after it, and upgrades partial reports on the next pull', async () => {
    let clock = 0;
    const calls: Array<[string, boolean]> = [];
    const host: WorkspaceDiagnosticsHost = {
      listFiles: async () => ['file:///ws/a.py', 'file:///ws/b.py', 'file:///ws/c.py', 'file:///ws/open.py'],
      isOpen: (uri) => uri.endsWith('open.py'),
      stamp: async () => '1:1',
      analyze: async (uri, complete) => {
        calls.push([uri.slice(-4), complete]);
        clock += 600; // each full or partial analysis costs 600 ms of the 1000 ms budget
        return { uri, version: 0, complete, references: [], startedAtMs: 0 } satisfies DocumentAnalysis;
      },
      diagnosticsOf: async (analysis) => [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } }, message: analysis.complete ? 'full' : 'resolved' } satisfies Diagnostic],
      generation: () => 0,
    };
    const pulls = new WorkspaceDiagnostics(host, 1_000, () => clock);
    const first = await pulls.pull({ previousResultIds: [] }, silent, new AbortController().signal);
    assert.deepEqual(calls, [['a.py', true], ['b.py', true], ['c.py', false]], 'open documents are left to push; the third file comes after the budget');
    assert.deepEqual(first.items.map((i) => (i.kind === 'full' ? i.items[0]!.message : i.kind)), ['full', 'full', 'resolved']);

    calls.length = 0;
    const second = await pulls.pull({ previousResultIds: first.items.map((i) => ({ uri: i.uri, value: i.resultId! })) }, silent, new AbortController().signal);
    assert.deepEqual(calls, [['c.py', true]], 'only the partial report is analysed again');
    assert.deepEqual(second.items.map((i) => (i.kind === 'full' ? i.items[0]!.message : i.kind)), ['unchanged', 'unchanged', 'full']);
  });
});
