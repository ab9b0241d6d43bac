// The CycloneDX 1.6 ML-BOM document as the server builds it and the client writes it: only the parts
// of the schema this export uses. Pure types.

// Only the parts of the CycloneDX 1.6 schema this export writes (https://cyclonedx.org/docs/1.6/json/).
export interface CycloneDxProperty {
  name: string;
  value: string;
}
export interface CycloneDxHash {
  alg: 'SHA-256';
  content: string;
}
export interface CycloneDxOccurrence {
  location: string;
  /** 1-based, as CycloneDX counts lines. */
  line: number;
  offset: number;
}
export interface CycloneDxComponent {
  type: 'machine-learning-model' | 'file' | 'application';
  'bom-ref'?: string;
  group?: string;
  name: string;
  version?: string;
  description?: string;
  purl?: string;
  hashes?: CycloneDxHash[];
  components?: CycloneDxComponent[];
  pedigree?: { ancestors?: CycloneDxComponent[]; notes?: string };
  modelCard?: { modelParameters: { architectureFamily?: string; modelArchitecture?: string } };
  evidence?: { occurrences: CycloneDxOccurrence[] };
  properties?: CycloneDxProperty[];
}
export interface CycloneDxBom {
  bomFormat: 'CycloneDX';
  specVersion: '1.6';
  serialNumber: string;
  version: 1;
  metadata: { timestamp: string; tools: { components: CycloneDxComponent[] }; component: CycloneDxComponent };
  components: CycloneDxComponent[];
  dependencies: Array<{ ref: string; dependsOn: string[] }>;
}

/** How a BOM is labelled: the caller's workspace, tool version, time and serial number. */
export interface BomOptions {
  workspaceName: string;
  /** Folder references are reported relative to (occurrence locations). */
  workspaceRoot?: string;
  toolVersion: string;
  /** Injected so the output is reproducible in tests. */
  timestamp: string;
  serialUuid: string;
}
