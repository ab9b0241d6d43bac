// Which references "Pin All Revisions" touches: checked commits only (cache, registry), never the
// Hub's moving branch head, never pinned references, claims or datasets.
import * as assert from 'node:assert/strict';
import { describeSkipped, pinTargetsByDocument } from '../../client/src/commands/pinPlan';
import { referenceStatus } from './referenceStatus';

// Statuses carry the pin the server computed (analysis/referenceFacts.ts pinCommitOf).

const CACHED = '1111111111111111111111111111111111111111';
const REGISTERED = '2222222222222222222222222222222222222222';
const HUB_HEAD = '3333333333333333333333333333333333333333';

describe('client: Pin All Revisions plan', () => {
  it('pins cached and registered commits, grouped by document, and leaves Hub heads to the quick fix', () => {
    const plan = pinTargetsByDocument([
      referenceStatus({ id: 'org/cached', pin: { commit: CACHED, origin: 'cached' } }),
      referenceStatus({ id: 'org/registered', uri: 'file:///ws/train.yml', resolution: { kind: 'registry', repoId: 'org/registered', commit: REGISTERED }, pin: { commit: REGISTERED, origin: 'registry' } }),
      referenceStatus({
        id: 'org/remote',
        resolution: { kind: 'unavailable', repoId: 'org/remote' },
        hub: { endpoint: 'https://huggingface.co', repoId: 'org/remote', commit: HUB_HEAD, revisionAsked: 'main', fileCount: 3, weightFiles: ['model.safetensors'], formats: ['safetensors'], baseModels: [] },
        pin: { commit: HUB_HEAD, origin: 'hub', revisionAsked: 'main' },
      }),
      referenceStatus({ id: 'org/pinned', pinned: true, pin: { commit: CACHED, origin: 'cached' } }),
      referenceStatus({ id: 'org/data', kind: 'dataset', pin: { commit: CACHED, origin: 'cached' } }),
    ]);
    assert.deepEqual(
      [...plan].map(([uri, targets]) => [uri, targets.map((t) => `${t.reference.id}@${t.commit}`)]),
      [
        ['file:///ws/app.py', [`org/cached@${CACHED}`]],
        ['file:///ws/train.yml', [`org/registered@${REGISTERED}`]],
      ],
    );
  });
});

describe('Pin All: the references it could not pin are named', () => {
  it('lists the first three and counts the rest', () => {
    assert.equal(describeSkipped([]), '');
    assert.equal(describeSkipped(['a.py:1 org/a (why)']), 'Not pinned: a.py:1 org/a (why).');
    assert.equal(describeSkipped(['1', '2', '3', '4', '5']), 'Not pinned: 1; 2; 3, and 2 more (listed in the Lineage output).');
  });
});
