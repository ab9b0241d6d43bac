// Under a backlog of open documents, the document being edited (or shown by the client) is analysed
// before the backlog: ordering of published diagnostics, not timing. Resolutions are made slow by a
// test hook that blocks the resolver's worker thread per job, so the backlog outlasts any scheduling noise.
import * as assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ListReferencesRequest, VisibleDocumentsNotification, type ListReferencesResult, type VisibleDocumentsParams } from '../../server/src/protocol';
import { buildFixtureWorkspace, serverEnv, UNKNOWN_PINNED, type FixtureWorkspace } from './fixtureWorkspace';
import { fileUri, LspTestClient } from './lspClient';

const BACKLOG_DOCUMENTS = 40;
const RESOLVE_BLOCK_MS = 100;

function backlogText(i: number, edit = 0): string {
  return `from transformers import AutoModel\n# backlog ${i}, edit ${edit}\nm = AutoModel.from_pretrained("soak-org/model-${i}", revision="${UNKNOWN_PINNED}")\n`;
}

describe('language server priorities under a backlog of documents', function () {
  this.timeout(180_000);
  let fixture: FixtureWorkspace;

  before(async () => {
    fixture = await buildFixtureWorkspace();
  });

  after(async () => {
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  /** Starts a server, opens the backlog, and returns the documents in the order opened plus the order of first publishes. */
  async function openBacklog(tag: string): Promise<{ client: LspTestClient; uris: string[]; firstPublished: string[] }> {
    const client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture, { LINEAGE_LSP_TEST_RESOLVE_BLOCK_MS: String(RESOLVE_BLOCK_MS), LINEAGE_LSP_WORKERS: '1' }) });
    const firstPublished: string[] = [];
    client.publishListeners.push((params) => {
      if (!firstPublished.includes(params.uri)) firstPublished.push(params.uri);
    });
    const folder = path.join(fixture.workspace, `backlog-${tag}`);
    await mkdir(folder, { recursive: true });
    const uris: string[] = [];
    for (let i = 0; i < BACKLOG_DOCUMENTS; i++) {
      const file = path.join(folder, `doc_${i}.py`);
      await writeFile(file, backlogText(i));
      uris.push(fileUri(file));
    }
    for (const [i, uri] of uris.entries()) await client.open(uri, 'python', backlogText(i));
    // The backlog is being worked on: its first documents have diagnostics.
    await client.waitFor('the first diagnostics of the backlog', () => (firstPublished.length > 0 ? true : undefined), 60_000);
    return { client, uris, firstPublished };
  }

  it('publishes the edited document before the backlog of open documents is analysed', async () => {
    const { client, uris, firstPublished } = await openBacklog('edit');
    try {
      // The last document opened: in first-come order it would be analysed last, its edit after everything.
      const activeUri = uris[uris.length - 1]!;
      await client.replace(activeUri, 2, backlogText(BACKLOG_DOCUMENTS - 1, 1));
      await client.waitFor('diagnostics of the edit', () => (client.diagnostics.get(activeUri)?.version === 2 ? true : undefined), 120_000);
      const backlogDone = uris.filter((u) => u !== activeUri && firstPublished.includes(u)).length;
      assert.ok(backlogDone < BACKLOG_DOCUMENTS - 1 - 10, `the edit was published after ${backlogDone} of ${BACKLOG_DOCUMENTS - 1} backlog documents`);
      // The backlog still completes.
      await client.waitFor('the whole backlog', () => (uris.every((u) => firstPublished.includes(u)) ? true : undefined), 120_000);
    } finally {
      await client.stop();
    }
  });

  it('answers a request waiting on a queued document when an edit supersedes its analysis before it ran', async () => {
    const { client, uris, firstPublished } = await openBacklog('superseded');
    try {
      const queuedUri = uris[uris.length - 1]!;
      assert.equal(firstPublished.includes(queuedUri), false, 'the document is still in the backlog');
      const listed = client.request<ListReferencesResult>(ListReferencesRequest.method, { uris: [queuedUri] });
      await client.replace(queuedUri, 2, backlogText(BACKLOG_DOCUMENTS - 1, 1));
      const result = await listed;
      assert.equal(result.references.length, 1);
      assert.equal(client.diagnostics.get(queuedUri)?.version, 2, 'answered from the edited version');
    } finally {
      await client.stop();
    }
  });

  it('publishes a document the client shows (lineage/visibleDocuments) before the backlog', async () => {
    const { client, uris, firstPublished } = await openBacklog('visible');
    try {
      const shownUri = uris[uris.length - 1]!;
      assert.equal(firstPublished.includes(shownUri), false, 'the shown document is still in the backlog');
      const params: VisibleDocumentsParams = { uris: [shownUri], activeUri: shownUri };
      await client.connection.sendNotification(VisibleDocumentsNotification.method, params);
      await client.waitFor('diagnostics of the shown document', () => (firstPublished.includes(shownUri) ? true : undefined), 120_000);
      const backlogDone = firstPublished.indexOf(shownUri);
      assert.ok(backlogDone < BACKLOG_DOCUMENTS - 1 - 10, `the shown document was published after ${backlogDone} of ${BACKLOG_DOCUMENTS - 1} backlog documents`);
    } finally {
      await client.stop();
    }
  });
});
