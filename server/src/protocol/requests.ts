// The custom requests and notifications of the language server, typed (method, params, result), with
// their payloads. Client and server both use these objects, so a payload change breaks the build.
import { NotificationType, RequestType, RequestType0 } from 'vscode-languageserver-protocol';
import type { Comparison } from '../core/compare/types';
import type { BomOptions, CycloneDxBom } from './cycloneDx';
import type { LineageAssessment, ModelFacts, Position, ReferenceStatus } from './types';

/** A compare target: a reference as text (`org/name[@rev]`, a path, a fingerprint JSON) or a site in a document. */
export type CompareTarget = { reference: string } | { uri: string; position: Position };

export interface CompareParams {
  a: CompareTarget;
  b: CompareTarget;
}
export type CompareResult = Comparison;

export interface ScanParams {
  target: CompareTarget;
}
export interface ScanResult {
  target: string;
  model?: ModelFacts;
  lineage: LineageAssessment;
}

export interface ListReferencesParams {
  /** Wait until fingerprints and lineage checks are done (default: report what is known now). */
  waitForLineage?: boolean;
  /** Only these documents (default: every supported file in the workspace folders). */
  uris?: string[];
}
export interface ListReferencesResult {
  references: ReferenceStatus[];
  /** Files skipped because the walk limit was reached. */
  truncated: boolean;
}

/** Models of the local Hugging Face cache that hold weights (for pickers), each at its main or only snapshot. */
export interface ListCachedModelsResult {
  models: Array<{ repoId: string; commit?: string; path?: string }>;
}

/** One registry file the server consults (the user's registry first, then the shipped reference database). */
export interface RegistryDescription {
  /** A file, or an organisation registry's URL without its password. */
  path: string;
  role: 'embedded' | 'user' | 'organisation';
  exists: boolean;
  entries: number;
  /** Why the file could not be used (corrupt, not a registry). */
  error?: string;
}

export interface RegistryInfoResult {
  registries: RegistryDescription[];
  /** Entries over every registry. */
  entries: number;
}

/** Fingerprints a model and stores it in the user's registry (never the shipped database). */
export interface AddToRegistryParams {
  target: CompareTarget;
  /** Entry id (default: the repo id, else the folder name). */
  id?: string;
  /** Revision to record (default: the cached commit). */
  revision?: string;
}
export interface AddToRegistryResult {
  /** Key under which the registry stored the fingerprint. */
  id: string;
  outcome: 'added' | 'replaced';
  /** 'tokenizer' entries name a vocabulary only (no weights were found). */
  kind: 'weights' | 'tokenizer';
  registryPath: string;
  registrySize: number;
}

/** Sent after the registries changed (an addition, new settings): clients refresh counts. */
export type RegistryChangedParams = RegistryInfoResult;

/**
 * The Hugging Face token the user stored in the editor's secret storage (none: cleared). It wins over
 * HF_TOKEN and the token file, is sent only to the Hub endpoint and is never logged.
 */
export interface HubTokenParams {
  token?: string;
}

/**
 * The password of the organisation registry (`lineage.registry.url`) from the editor's secret storage
 * (none: cleared; PGPASSWORD and ~/.pgpass apply). Held in memory only, never logged.
 */
export interface RegistryPasswordParams {
  password?: string;
}

/**
 * The documents the editor shows (its visible editors) and the focused one: the server analyses them
 * before the other open documents. Sent whenever they change; without it the server puts the most
 * recently edited document first.
 */
export interface VisibleDocumentsParams {
  uris: string[];
  activeUri?: string;
}

/** Sent when a document's analysis (including fingerprints) finished for a version. */
export interface DocumentAnalyzedParams {
  uri: string;
  version: number;
  referenceCount: number;
  /** Wall time from the start of the analysis pass to the final diagnostics. */
  elapsedMs: number;
}

/**
 * Whether the Hub is being asked about models that are not on this machine: `online`, `offline` (the
 * `lineage.offline` setting), `offline-environment` (HF_HUB_OFFLINE), or `unreachable` (lookups failed
 * to connect). Sent when it changes; the status bar shows it and a click toggles `lineage.offline`.
 */
export interface HubStateParams {
  state: 'online' | 'offline' | 'offline-environment' | 'unreachable';
  /** One line for the tooltip. */
  detail: string;
}

/** Every reference of the workspace with its lineage, as a CycloneDX 1.6 ML-BOM (one builder for the CLI and the editor). */
export type ExportBomParams = BomOptions;
export interface ExportBomResult {
  bom: CycloneDxBom;
  /** The workspace walk stopped at its file limit. */
  truncated: boolean;
}

export const CompareRequest = new RequestType<CompareParams, CompareResult, void>('lineage/compare');
export const ScanRequest = new RequestType<ScanParams, ScanResult, void>('lineage/scan');
export const ListReferencesRequest = new RequestType<ListReferencesParams | undefined, ListReferencesResult, void>('lineage/listReferences');
export const ListCachedModelsRequest = new RequestType0<ListCachedModelsResult, void>('lineage/listCachedModels');
export const RegistryInfoRequest = new RequestType0<RegistryInfoResult, void>('lineage/registryInfo');
export const AddToRegistryRequest = new RequestType<AddToRegistryParams, AddToRegistryResult, void>('lineage/addToRegistry');
export const RegistryChangedNotification = new NotificationType<RegistryChangedParams>('lineage/registryChanged');
export const HubTokenNotification = new NotificationType<HubTokenParams>('lineage/hubToken');
export const RegistryPasswordNotification = new NotificationType<RegistryPasswordParams>('lineage/registryPassword');
/** What a Hub token looks like (printable, no spaces): the client refuses anything else, the server ignores it. */
export const HUB_TOKEN_SHAPE = /^[\x21-\x7e]{1,512}$/;
/** What a registry password looks like (printable ASCII, as PostgreSQL passwords in practice are). */
export const REGISTRY_PASSWORD_SHAPE = /^[\x20-\x7e]{1,1024}$/;
/** Sent when the user trusts the workspace: `lineage.hub.remoteFingerprint: auto` may then read from the Hub. */
export const WorkspaceTrustedNotification = new NotificationType<Record<string, never>>('lineage/workspaceTrusted');
export const VisibleDocumentsNotification = new NotificationType<VisibleDocumentsParams>('lineage/visibleDocuments');
export const DocumentAnalyzedNotification = new NotificationType<DocumentAnalyzedParams>('lineage/documentAnalyzed');
export const HubStateNotification = new NotificationType<HubStateParams>('lineage/hubState');
export const ExportBomRequest = new RequestType<ExportBomParams, ExportBomResult, void>('lineage/exportBom');
