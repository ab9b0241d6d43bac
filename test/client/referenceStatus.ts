// Builds ReferenceStatus values (what lineage/listReferences returns) for the client's pure-module tests.
import type { ModelFacts, ReferenceStatus } from '../../server/src/protocol';

export function modelFacts(overrides: Partial<ModelFacts> = {}): ModelFacts {
  return {
    contentIdentity: 'sha256:abc',
    displayName: 'model',
    format: 'safetensors',
    files: [{ relativePath: 'model.safetensors', sizeBytes: 10, role: 'weights' }],
    weightFiles: ['model.safetensors'],
    parameterCount: 102714,
    architecture: { family: 'gpt2', hiddenSize: 2, layers: 2 },
    findings: [],
    declaredBases: [],
    integrity: [],
    problems: [],
    ...overrides,
  };
}

export function referenceStatus(overrides: Partial<ReferenceStatus> & { id: string }): ReferenceStatus {
  return {
    uri: 'file:///ws/app.py',
    range: { start: { line: 1, character: 10 }, end: { line: 1, character: 30 } },
    loader: 'from_pretrained',
    kind: 'model',
    pinned: false,
    resolution: { kind: 'hf-cache', repoId: overrides.id, commit: '1111111111111111111111111111111111111111' },
    lineage: { status: 'unverified', matches: [], declared: [], candidatesCompared: 3 },
    ...overrides,
  };
}
