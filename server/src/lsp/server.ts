// The Lineage Lens language server (bundled to dist/server.js; stdio, IPC, socket or pipe picked
// from argv): wires documents, settings and the worker-backed engine to the per-feature modules.
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  DocumentDiagnosticReportKind,
  FileChangeType,
  type CancellationToken,
  createConnection,
  ProposedFeatures,
  TextDocuments,
  TextDocumentSyncKind,
  type InitializeParams,
  type InitializeResult,
  type WorkDoneProgressServerReporter,
  MessageType,
  ShowMessageNotification,
} from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { hfCacheRoots } from '../core/model/hfCache';
import { parseModelReference } from '../core/model/reference';
import { errorMessage } from '../core/errors';
import { DOCUMENT_FILES_GLOB, documentKindOf, initPythonParser, MAX_DOCUMENT_CHARS } from '../references';
import { computeCodeActions } from './features/codeActions';
import { computeCodeLenses } from './features/codeLens';
import { computeDiagnostics } from './features/diagnostics';
import { WorkspaceDiagnostics } from './features/workspaceDiagnostics';
import { WorkspaceReferences } from './workspaceReferences';
import { listWorkspaceFiles } from '../analysis/workspaceFiles';
import { analyzeDocument, type AnalysisContext, type DocumentAnalysis, type DocumentInput } from '../analysis/documentAnalysis';
import { computeHover, referenceAt } from './features/hover';
import { HubLookups } from '../analysis/oracles/hubLookups';
import { RemoteFingerprints } from '../analysis/remoteFingerprints';
import { assessLineage } from '../analysis/lineage';
import { buildCycloneDxBom } from '../analysis/bom/cycloneDx';
import { workspaceWeightHashes } from '../analysis/bom/weightHashes';
import { LocalCacheOracle } from '../analysis/oracles/localCacheOracle';
import { WELL_KNOWN_MODEL_IDS } from '../analysis/lookAlike';
import { combineOracles, type LineageOracle } from '../analysis/oracles/oracle';
import { PolicyStore, type LineagePolicy } from '../analysis/policy';
import { withStandings } from '../analysis/standing';
import {
  CompareRequest,
  DocumentAnalyzedNotification,
  HUB_TOKEN_SHAPE,
  HubTokenNotification,
  RegistryPasswordNotification,
  type RegistryPasswordParams,
  WorkspaceTrustedNotification,
  HubStateNotification,
  type HubStateParams,
  AddToRegistryRequest,
  ListCachedModelsRequest,
  ListReferencesRequest,
  ExportBomRequest,
  type ExportBomResult,
  RegistryChangedNotification,
  RegistryInfoRequest,
  ScanRequest,
  ServerCommands,
  type CompareParams,
  type CompareResult,
  type CompareTarget,
  type DocumentAnalyzedParams,
  type HubTokenParams,
  type LineageSettings,
  type ListReferencesParams,
  type ListCachedModelsResult,
  type ListReferencesResult,
  type AddToRegistryParams,
  type AddToRegistryResult,
  type ReferenceStatus,
  type RegistryInfoResult,
  type Resolution,
  type ScanParams,
  type ScanResult,
  VisibleDocumentsNotification,
  type VisibleDocumentsParams,
} from '../protocol';
import { cacheFolderOf, RegistryOracle } from '../analysis/oracles/registryOracle';
import { RegistryAccess } from './registryAccess';
import { AnalysisEngine } from '../analysis/engine';
import { isCancellation } from '../core/util/cancellation';
import { attachPriority, JobPriority } from '../core/util/jobPriority';
import { AnalysisScheduler } from './analysisScheduler';
import { PassWaiters } from './passWaiters';
import { DEFAULT_SETTINGS, parseSettings } from './settings';
import { warmUpDiagnostics } from './warmUp';
import { WorkerJobRunner } from './workers/workerRunner';

/** Typing pauses shorter than this do not start a new analysis. */
const CHANGE_DEBOUNCE_MS = 150;
/** Hovers, lenses and code actions wait this long for the newest version's analysis, then answer from the last one. */
const STALE_ANSWER_AFTER_MS = 50;
/** The workspace walk (listReferences, workspace diagnostics, the id index) stops after this many files. */
const MAX_WORKSPACE_FILES = 5_000;
/** An analysis waits at most this long for the workspace id index (LL008 across files) on start-up; later partners re-publish it. */
const WORKSPACE_INDEX_WAIT_MS = 1_000;

const connection = createConnection(ProposedFeatures.all);
const documents = new TextDocuments(TextDocument);

let settings: LineageSettings = DEFAULT_SETTINGS;
let workspaceFolders: string[] = [];
let clientSupportsConfiguration = false;
let clientSupportsProgress = false;
let clientSupportsLensRefresh = false;
let clientSupportsDiagnosticRefresh = false;
let clientWatchesFilesForUs = false;
/** Bumped whenever settings, policy or registries change: workspace reports computed before are stale. */
let analysisGeneration = 0;
const policies = new PolicyStore();

const heavyWorkers = Math.max(1, Math.min(4, Number(process.env['LINEAGE_LSP_WORKERS'] ?? 0) || os.availableParallelism() - 1));
const workerFile = path.join(__dirname, 'worker.js');
const log = (message: string): void => connection.console.log(message);
const runner = new WorkerJobRunner(workerFile, heavyWorkers, log);
const engine = new AnalysisEngine(runner, {
  cacheRoots: () => hfCacheRoots(process.env),
  integrityMaxBytes: () => settings.integrityMaxBytes,
  maxWeightBytes: () => settings.fingerprint.maxBytesPerModel,
  inspectionCacheFolder: () => path.join(cacheFolderOf(settings), 'fingerprints'),
});
const localCacheOracle = new LocalCacheOracle(engine, () => settings.maxLocalCandidates, () => settings.localCacheCandidates);
/** Registry credentials and problems: each problem shown once, never with a password; analysis goes on without that registry. */
const registryAccess = new RegistryAccess((problem) => {
  log(`registry: ${problem}`);
  // A notification, not showWarningMessage (a request some clients leave unanswered).
  void connection.sendNotification(ShowMessageNotification.type, { type: MessageType.Warning, message: `Lineage: ${problem}. Analysis continues with the other registries.` });
});
const registryOracle = new RegistryOracle(
  engine,
  () => registryAccess.sources(settings),
  (info, firstListing) => {
    void connection.sendNotification(RegistryChangedNotification, info);
    // Another process (lineage db add) changed a registry: verdicts and look-alike ids may change.
    if (!firstListing) void refreshKnownIds().then(reanalyzeAll);
  },
  (problem) => registryAccess.report(problem),
);
/** Hub metadata of references not on this machine; reads the settings at each lookup (offline, endpoint). */
/** Set by the client from VS Code's secret storage (lineage/hubToken). */
let editorHubToken: string | undefined;
const hubLookups = new HubLookups({ settings: () => settings, editorToken: () => editorHubToken });
/** Clients without a notion of trust (Neovim, tests) count as trusted; VS Code says so in initializationOptions. */
let workspaceTrusted = true;
/** Fingerprints of Hub models on no disk, read by range requests in the slow stage, within a per-workspace byte budget. */
const remoteFingerprints = new RemoteFingerprints({ engine, hub: hubLookups, settings: () => settings, workspaceTrusted: () => workspaceTrusted, cacheFolder: () => cacheFolderOf(settings) });
/** Every fingerprint is checked against the other cached models and the registries. */
const oracle: LineageOracle = combineOracles([localCacheOracle, registryOracle]);
/** LL008 compares ids against the built-in well-known list plus the registries' weight entries. */
let wellKnownIds: readonly string[] = WELL_KNOWN_MODEL_IDS;

async function refreshKnownIds(): Promise<void> {
  const registered = await registryOracle.knownIds();
  const merged = [...new Set([...WELL_KNOWN_MODEL_IDS, ...registered])];
  if (merged.length !== wellKnownIds.length || merged.some((id, i) => id !== wellKnownIds[i])) wellKnownIds = merged;
}

// The wasm files sit next to dist/server.js in a build; from sources they come from node_modules.
// The warm-up analysis (warmUp.ts) makes the first document opened as fast as the later ones.
const pythonParserReady = initPythonParser(existsSync(path.join(__dirname, 'tree-sitter-python.wasm')) ? __dirname : undefined);
pythonParserReady.catch((err: unknown) => log(`python parser unavailable: ${errorMessage(err)}`));

// ---------------------------------------------------------------------------------------------
// Per-document analysis state: the newest published analysis and the pass running for the newest version.

interface DocumentState {
  latest?: DocumentAnalysis;
  controller?: AbortController;
  debounce?: NodeJS.Timeout;
  /** The resolved stage and complete analysis of the newest version, for hovers, lenses and listings to wait on. */
  waiters: PassWaiters<DocumentAnalysis>;
  policy?: LineagePolicy;
}

const states = new Map<string, DocumentState>();
/** The edited and visible documents first, the backlog of other open documents a few at a time. */
const scheduler = new AnalysisScheduler();

function stateOf(uri: string): DocumentState {
  let state = states.get(uri);
  if (!state) {
    state = { waiters: new PassWaiters<DocumentAnalysis>() };
    states.set(uri, state);
  }
  return state;
}

function fsPathOf(uri: string): string | undefined {
  return uri.startsWith('file:') ? fileURLToPath(uri) : undefined;
}

function workspaceFolderOf(fsPath: string | undefined): string | undefined {
  if (fsPath === undefined) return workspaceFolders[0];
  return workspaceFolders.filter((w) => fsPath === w || fsPath.startsWith(w + path.sep)).sort((a, b) => b.length - a.length)[0] ?? workspaceFolders[0];
}

function analysisContext(signal: AbortSignal | undefined): AnalysisContext {
  return { engine, oracle, registry: registryOracle, wellKnownIds, workspaceIndex: workspaceReferences.index, workspaceFolders, signal, hub: hubLookups, remote: remoteFingerprints };
}

/** Analysis passes that have not published their resolved stage yet: the warm-up gives way to them. */
let passesAwaitingDiagnostics = 0;
/**
 * A warm-up round blocks the thread for one parse (hundreds of ms on a busy machine): it waits for
 * this long without diagnostics published or features asked, since a hover often follows diagnostics.
 */
const WARM_UP_QUIET_MS = 500;
let lastDocumentActivityMs = 0;

/** The warm-up's jobs queue behind every document's. */
const warmUpSignal = new AbortController().signal;
attachPriority(warmUpSignal, () => JobPriority.idle);

void pythonParserReady
  .then(() => warmUpDiagnostics(analysisContext(warmUpSignal), () => passesAwaitingDiagnostics > 0 || scheduler.waitingCount > 0 || Date.now() - lastDocumentActivityMs < WARM_UP_QUIET_MS))
  .catch((err: unknown) => log(`warm-up failed: ${errorMessage(err)}`));

/** Work-done progress while models are fingerprinted; one report at a time, ended when the engine is idle. */
class ProgressTracker {
  private active = 0;
  private reporter: Promise<WorkDoneProgressServerReporter | undefined> | undefined;

  started(description: string): void {
    this.active++;
    if (!clientSupportsProgress) return;
    if (!this.reporter) {
      this.reporter = connection.window.createWorkDoneProgress().then(
        (reporter) => {
          reporter.begin('Lineage', undefined, `fingerprinting ${description}`, false);
          return reporter;
        },
        () => undefined,
      );
    } else {
      void this.reporter.then((r) => r?.report(`fingerprinting ${description}`));
    }
  }

  finished(): void {
    this.active = Math.max(0, this.active - 1);
    if (this.active > 0 || !this.reporter) return;
    const reporter = this.reporter;
    this.reporter = undefined;
    void reporter.then((r) => r?.done());
  }
}

const progress = new ProgressTracker();
engine.events = { onWorkStarted: (d) => progress.started(d), onWorkFinished: () => progress.finished() };

/** Lens refreshes are coalesced: a backlog of analyses finishing must not make the client re-ask hundreds of times. */
const LENS_REFRESH_COALESCE_MS = 300;
let lensRefreshTimer: NodeJS.Timeout | undefined;

function requestLensRefresh(): void {
  if (!clientSupportsLensRefresh || lensRefreshTimer) return;
  lensRefreshTimer = setTimeout(() => {
    lensRefreshTimer = undefined;
    void connection.sendRequest('workspace/codeLens/refresh').catch(() => undefined);
  }, LENS_REFRESH_COALESCE_MS);
}

function publish(analysis: DocumentAnalysis, policy: LineagePolicy | undefined): void {
  lastDocumentActivityMs = Date.now();
  void connection.sendDiagnostics({ uri: analysis.uri, version: analysis.version, diagnostics: computeDiagnostics(analysis, settings, policy) });
  if (analysis.complete) reportHubState();
}

let lastHubState: string | undefined;

/** Tells the client whether the Hub is asked (the status bar's offline indicator); only changes are sent. */
function reportHubState(): void {
  let params: HubStateParams;
  if (settings.offline) params = { state: 'offline', detail: 'lineage.offline is set: the Hub is never asked about models that are not on this machine' };
  else if (!hubLookups.allowed()) params = { state: 'offline-environment', detail: 'HF_HUB_OFFLINE is set in the environment: the Hub is never asked' };
  else {
    const failed = [...states.values()].flatMap((s) => s.latest?.references ?? []).map((r) => r.status.hub).find((hub) => hub !== undefined && 'problem' in hub && (hub.problem === 'offline' || hub.problem === 'timeout'));
    params = failed && 'problem' in failed ? { state: 'unreachable', detail: `The Hub could not be reached: ${failed.detail}` } : { state: 'online', detail: `The Hub (${settings.hub.endpoint || 'https://huggingface.co'}) is asked about models that are not on this machine` };
  }
  const key = JSON.stringify(params);
  if (key === lastHubState) return;
  lastHubState = key;
  void connection.sendNotification(HubStateNotification, params);
}

function scheduleAnalysis(document: TextDocument, immediate: boolean): void {
  const state = stateOf(document.uri);
  clearTimeout(state.debounce);
  // Edits cancel stale work at once, even before the debounce elapses.
  state.controller?.abort();
  state.controller = new AbortController();
  const controller = state.controller;
  // Waiters of a previous pass that has not settled them wait for this one.
  const { resolved: settleResolved, complete: settleComplete } = state.waiters.startPass();
  // A background slot is held until this pass's resolved stage is out (or the pass ended): the slow
  // stage mostly waits on jobs shared with other documents.
  let releaseSlot!: () => void;
  const slotReleased = new Promise<void>((resolve) => (releaseSlot = resolve));
  const run = async (): Promise<void> => {
    passesAwaitingDiagnostics++;
    let awaitingDiagnostics = true;
    const diagnosticsPublished = (): void => {
      if (awaitingDiagnostics) passesAwaitingDiagnostics--;
      awaitingDiagnostics = false;
      releaseSlot();
    };
    // Every job of this pass queues by the document's priority at the moment a worker frees up.
    attachPriority(controller.signal, () => scheduler.priorityOf(document.uri));
    const input: DocumentInput = { uri: document.uri, version: document.version, text: document.getText() };
    const fsPath = fsPathOf(document.uri);
    if (fsPath !== undefined) input.fsPath = fsPath;
    try {
      if (controller.signal.aborted) return;
      const policy = await policies.policyFor(workspaceFolderOf(fsPath));
      for (const problem of policy?.problems ?? []) log(`policy: ${problem}`);
      state.policy = policy;
      await workspaceReferences.ready(WORKSPACE_INDEX_WAIT_MS);
      if (controller.signal.aborted) return;
      const context: AnalysisContext = {
        ...analysisContext(controller.signal),
        onResolved: (resolvedStage) => {
          if (controller.signal.aborted) return;
          workspaceReferences.record(document.uri, resolvedStage.references.map((r) => r.site));
          const partial = withStandings(resolvedStage, policy);
          state.latest = partial;
          publish(partial, policy);
          diagnosticsPublished();
          settleResolved(partial);
        },
      };
      const analysis = withStandings(await analyzeDocument(input, context), policy);
      if (controller.signal.aborted) return;
      state.latest = analysis;
      settleResolved(analysis);
      publish(analysis, policy);
      requestLensRefresh();
      const done: DocumentAnalyzedParams = { uri: analysis.uri, version: analysis.version, referenceCount: analysis.references.length, elapsedMs: Date.now() - analysis.startedAtMs };
      void connection.sendNotification(DocumentAnalyzedNotification, done);
      settleComplete(analysis);
    } catch (err) {
      if (!isCancellation(err) && !controller.signal.aborted) log(`analysis of ${document.uri} failed: ${errorMessage(err)}`);
    } finally {
      diagnosticsPublished();
      // A cancelled pass gives its waiters the last good analysis, unless a newer pass took them over.
      settleResolved(state.latest);
      settleComplete(state.latest);
    }
  };
  const submit = (): void => scheduler.submit(document.uri, () => {
    void run();
    return slotReleased;
  });
  if (immediate) submit();
  else state.debounce = setTimeout(submit, CHANGE_DEBOUNCE_MS);
}

/** The analysis hovers and lenses use: the newest version's resolved stage, or the last one published. */
async function analysisFor(uri: string): Promise<DocumentAnalysis | undefined> {
  const state = states.get(uri);
  if (!state) return undefined;
  const document = documents.get(uri);
  if (state.latest && document && state.latest.version === document.version) return state.latest;
  return (await state.waiters.resolved) ?? state.latest;
}

/**
 * The analysis hovers, lenses and code actions answer from: the newest version's resolved stage when
 * it comes quickly, else the last one published, keeping only references whose text is still in place.
 */
async function answerableAnalysis(uri: string): Promise<DocumentAnalysis | undefined> {
  lastDocumentActivityMs = Date.now();
  const state = states.get(uri);
  const document = documents.get(uri);
  if (!state || !document) return undefined;
  if (state.latest?.version === document.version) return state.latest;
  if (!state.latest) {
    scheduler.startNow(uri);
    return state.waiters.resolved;
  }
  const stale = state.latest;
  const newest = await Promise.race([state.waiters.resolved, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), STALE_ANSWER_AFTER_MS))]);
  if (newest && newest.version === documents.get(uri)?.version) return newest;
  const current = documents.get(uri);
  if (!current) return undefined;
  return { ...stale, references: stale.references.filter((r) => r.site.id !== '' && current.getText(r.site.range).includes(r.site.id)) };
}

function reanalyzeAll(): void {
  for (const document of documents.all()) scheduleAnalysis(document, true);
  workspaceStale();
}

/** Workspace reports are recomputed on the client's next pull (asked for at once when it can be). */
function workspaceStale(): void {
  analysisGeneration++;
  workspaceDiagnostics.clear();
  refreshWorkspaceDiagnostics();
}

/** Asks the client to pull workspace diagnostics again, when it can be asked. */
function refreshWorkspaceDiagnostics(): void {
  if (clientSupportsDiagnosticRefresh) void connection.languages.diagnostics.refresh().catch(() => undefined);
}

/** The Hub ids every document references, for look-alikes across files (LL008). */
const workspaceReferences = new WorkspaceReferences({
  folders: () => workspaceFolders,
  listFiles: async () => (await workspaceDocumentUris()).uris,
  isOpen: (uri) => documents.get(uri) !== undefined,
  partnersChanged: (uris) => {
    const closed: string[] = [];
    for (const uri of uris) {
      const open = documents.get(uri);
      if (open) scheduleAnalysis(open, true);
      else closed.push(uri);
    }
    if (closed.length === 0) return;
    workspaceDiagnostics.invalidate(closed);
    refreshWorkspaceDiagnostics();
  },
  log,
});

const workspaceDiagnostics = new WorkspaceDiagnostics({
  listFiles: async () => (await workspaceDocumentUris()).uris,
  isOpen: (uri) => documents.get(uri) !== undefined,
  stamp: async (uri) => {
    const fsPath = fsPathOf(uri);
    const info = fsPath === undefined ? undefined : await stat(fsPath).catch(() => undefined);
    return info?.isFile() ? `${info.size}:${info.mtimeMs}` : undefined;
  },
  analyze: async (uri, complete, signal) => {
    const fsPath = fsPathOf(uri);
    const text = fsPath === undefined ? undefined : await readFile(fsPath, 'utf8').catch(() => undefined);
    if (fsPath === undefined || text === undefined || text.length > MAX_DOCUMENT_CHARS) return undefined;
    const policy = await policies.policyFor(workspaceFolderOf(fsPath));
    const analysis = await analyzeDocument({ uri, version: 0, text, fsPath }, { ...analysisContext(signal), stopAfterResolution: !complete });
    workspaceReferences.record(uri, analysis.references.map((r) => r.site));
    return withStandings(analysis, policy);
  },
  diagnosticsOf: async (analysis) => computeDiagnostics(analysis, settings, await policies.policyFor(workspaceFolderOf(fsPathOf(analysis.uri)))),
  generation: () => analysisGeneration,
});

// ---------------------------------------------------------------------------------------------
// Lifecycle.

connection.onInitialize((params: InitializeParams): InitializeResult => {
  const capabilities = params.capabilities;
  clientSupportsConfiguration = capabilities.workspace?.configuration === true;
  clientSupportsProgress = capabilities.window?.workDoneProgress === true;
  clientSupportsLensRefresh = capabilities.workspace?.codeLens?.refreshSupport === true;
  clientSupportsDiagnosticRefresh = capabilities.workspace?.diagnostics?.refreshSupport === true;
  clientWatchesFilesForUs = capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
  const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
  workspaceFolders = folders.map(fsPathOf).filter((f): f is string => f !== undefined);
  const options = params.initializationOptions as { settings?: unknown; workspaceTrusted?: unknown; registryPasswordFromClient?: unknown } | undefined;
  if (options?.settings !== undefined) settings = parseSettings(options.settings);
  if (options?.registryPasswordFromClient === true) registryAccess.expectPasswordFromClient();
  if (options?.workspaceTrusted === false) workspaceTrusted = false;
  return {
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      codeLensProvider: { resolveProvider: false },
      codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      executeCommandProvider: { commands: [ServerCommands.reanalyze] },
      // Pull model for files no editor has open (open documents are pushed, as before).
      diagnosticProvider: { identifier: 'lineage', interFileDependencies: false, workspaceDiagnostics: true },
      workspace: { workspaceFolders: { supported: true, changeNotifications: true } },
    },
    serverInfo: { name: 'lineage-lens', version: '0.1.0' },
  };
});

async function refreshSettings(pushed?: unknown): Promise<void> {
  if (pushed !== undefined && pushed !== null) settings = parseSettings(pushed);
  else if (clientSupportsConfiguration) {
    // Clients without a `lineage` section answer null: keep what initializationOptions gave.
    const fetched: unknown = await connection.workspace.getConfiguration('lineage').catch(() => undefined);
    if (fetched !== null && fetched !== undefined) settings = parseSettings(fetched);
  }
}

connection.onInitialized(() => {
  void (async () => {
    await refreshSettings();
    reportHubState();
    registryAccess.checkSettings(settings);
    await refreshKnownIds().catch((err: unknown) => log(`registry unavailable: ${errorMessage(err)}`));
    void workspaceReferences.rebuild();
    reanalyzeAll();
  })();
  // Files other than open documents change the id index (LL008 across files): the client watches them for us.
  if (clientWatchesFilesForUs) {
    void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: DOCUMENT_FILES_GLOB }] }).catch(() => undefined);
  }
  if (workspaceFolders.length > 0 || clientSupportsConfiguration) {
    connection.workspace.onDidChangeWorkspaceFolders((event) => {
      const removed = new Set(event.removed.map((f) => fsPathOf(f.uri)));
      workspaceFolders = [...workspaceFolders.filter((f) => !removed.has(f)), ...event.added.map((f) => fsPathOf(f.uri)).filter((f): f is string => f !== undefined)];
      void workspaceReferences.rebuild();
      reanalyzeAll();
    });
  }
});

connection.onDidChangeConfiguration((change) => {
  const pushed = (change.settings as { lineage?: unknown } | undefined)?.lineage;
  const before = settings;
  void refreshSettings(pushed).then(async () => {
    const registriesMoved = JSON.stringify(registryAccess.sources(before)) !== JSON.stringify(registryAccess.sources(settings));
    if (registriesMoved) registryAccess.forgetReported();
    registryAccess.checkSettings(settings);
    const budgetChanged = before.fingerprint.maxBytesPerModel !== settings.fingerprint.maxBytesPerModel;
    const hubChanged = before.offline !== settings.offline || before.hub.endpoint !== settings.hub.endpoint;
    const remoteChanged = hubChanged || before.hub.remoteFingerprint !== settings.hub.remoteFingerprint || before.hub.remoteBudgetBytes !== settings.hub.remoteBudgetBytes;
    if (remoteChanged || budgetChanged) remoteFingerprints.forget();
    if (hubChanged) reportHubState();
    if (!registriesMoved && !budgetChanged && !remoteChanged) {
      // Severities only: the analyses stand, the diagnostics are recomputed.
      for (const [, state] of states) if (state.latest) publish(state.latest, state.policy);
      workspaceStale();
      return;
    }
    if (budgetChanged) engine.clear();
    registryOracle.invalidate();
    await refreshKnownIds().catch(() => undefined);
    reanalyzeAll();
  });
});

/** Documents whose content event comes from opening them, not from an edit. */
const justOpened = new Set<string>();
documents.onDidOpen((event) => justOpened.add(event.document.uri));

documents.onDidChangeContent((change) => {
  const uri = change.document.uri;
  // An edit makes its document the one being edited: its analysis goes before the backlog.
  if (!justOpened.delete(uri)) scheduler.edited(uri);
  // The first content of a document is analysed at once; later edits wait for a typing pause.
  scheduleAnalysis(change.document, !states.get(uri)?.latest);
});

documents.onDidClose((event) => {
  const state = states.get(event.document.uri);
  state?.controller?.abort();
  state?.waiters.settleAll(state.latest);
  clearTimeout(state?.debounce);
  states.delete(event.document.uri);
  scheduler.forget(event.document.uri);
  workspaceReferences.closed(event.document.uri);
  void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
});

connection.onDidChangeWatchedFiles((params) => {
  for (const change of params.changes) workspaceReferences.fileEvent(change.uri, change.type === FileChangeType.Deleted ? 'deleted' : 'changed');
});

// ---------------------------------------------------------------------------------------------
// Features: each a pure function of the analysis.

connection.onHover(async (params) => {
  const analysis = await answerableAnalysis(params.textDocument.uri);
  return analysis ? computeHover(analysis, params.position) : null;
});

connection.onCodeLens(async (params) => {
  const analysis = await answerableAnalysis(params.textDocument.uri);
  return analysis ? computeCodeLenses(analysis) : [];
});

connection.onCodeAction(async (params) => {
  const analysis = await answerableAnalysis(params.textDocument.uri);
  return analysis ? computeCodeActions(analysis, params.range, params.context.diagnostics) : [];
});

connection.languages.diagnostics.onWorkspace(async (params, token, workDoneProgress) => {
  const controller = abortControllerFor(token);
  // A client that sent no progress token still sees progress when it accepts server-initiated progress.
  const reporter = params.workDoneToken === undefined && clientSupportsProgress ? await connection.window.createWorkDoneProgress().catch(() => workDoneProgress) : workDoneProgress;
  return workspaceDiagnostics.pull(params, reporter, controller.signal);
});

// Open documents are pushed (publishDiagnostics); their pull report stays empty so nothing shows twice.
connection.languages.diagnostics.on(() => ({ kind: DocumentDiagnosticReportKind.Full, items: [] }));

connection.onExecuteCommand((params) => {
  if (params.command === ServerCommands.reanalyze) {
    engine.clear();
    remoteFingerprints.forget();
    registryOracle.invalidate();
    reanalyzeAll();
  }
});

// ---------------------------------------------------------------------------------------------
// Custom requests (names and payloads in protocol.ts).

/** An AbortController that aborts when the client cancels the request (engine calls take signals). */
function abortControllerFor(token: CancellationToken): AbortController {
  const controller = new AbortController();
  token.onCancellationRequested(() => controller.abort());
  return controller;
}

/** Turns a compare target into something openModel accepts: a path, `org/name@commit`, or the text given. */
async function targetText(target: CompareTarget): Promise<string> {
  if ('reference' in target) {
    const written = target.reference;
    if (!path.isAbsolute(written) && workspaceFolders[0] !== undefined && (written.startsWith('.') || existsSync(path.join(workspaceFolders[0], written)))) {
      return path.join(workspaceFolders[0], written);
    }
    return written;
  }
  const analysis = await analysisFor(target.uri);
  const reference = analysis && referenceAt(analysis, target.position);
  if (!reference) throw new Error(`no model reference at ${target.uri}:${target.position.line + 1}:${target.position.character + 1}`);
  const resolution = reference.status.resolution;
  if (resolution.kind === 'hf-cache' && resolution.repoId && resolution.commit) return `${resolution.repoId}@${resolution.commit}`;
  if (resolution.path !== undefined) return resolution.path;
  throw new Error(notOnDiskMessage(reference.site.id || 'the reference'));
}

connection.onRequest(CompareRequest, async (params: CompareParams, token): Promise<CompareResult> => {
  const controller = abortControllerFor(token);
  const [a, b] = await Promise.all([targetText(params.a), targetText(params.b)]);
  return engine.compareTargets(a, b, controller.signal);
});

/** Compare and Scan read a model's files: say so in one sentence (where the server looked is in the hover). */
function notOnDiskMessage(target: string): string {
  return `${target} is not on this machine: Compare and Scan read a model's files, so download it first (huggingface-cli download ${target.replace(/@.*$/, '')}) or pick a folder.`;
}

/**
 * Resolves a request's target to local files. A path the user chose in the client (a folder picker,
 * the Explorer) is allowed even outside the workspace folders: the choice is theirs, not a document's.
 */
async function resolveTarget(target: string, signal: AbortSignal): Promise<Resolution & { kind: 'hf-cache' | 'workspace' }> {
  const reference = parseModelReference(target) ?? { kind: 'local' as const, path: target };
  const allowed = path.isAbsolute(target) && existsSync(target) ? [...workspaceFolders, target] : workspaceFolders;
  const [resolution] = await engine.resolve([{ id: target, reference, kind: 'model' }], allowed, signal);
  if (!resolution || (resolution.kind !== 'hf-cache' && resolution.kind !== 'workspace')) {
    throw new Error(notOnDiskMessage(target));
  }
  return resolution as Resolution & { kind: 'hf-cache' | 'workspace' };
}

connection.onRequest(ScanRequest, async (params: ScanParams, token): Promise<ScanResult> => {
  const controller = abortControllerFor(token);
  const target = await targetText(params.target);
  const resolution = await resolveTarget(target, controller.signal);
  const inspected = await engine.inspect(resolution, controller.signal);
  const lineage = await assessLineage(inspected, resolution.repoId, [], analysisContext(controller.signal));
  return { target, model: inspected.facts, lineage };
});

/** A picker lists at most this many cached models; a cache with thousands is a mirror, not a workbench. */
const MAX_PICKER_CACHED_MODELS = 500;

// Sent without params: a RequestType0 hands the handler the token first.
connection.onRequest(ListCachedModelsRequest, async (token): Promise<ListCachedModelsResult> => {
  const controller = abortControllerFor(token);
  const found = await engine.listCachedModels(MAX_PICKER_CACHED_MODELS, controller.signal);
  return { models: found.filter((r) => r.repoId !== undefined).map((r) => ({ repoId: r.repoId!, ...(r.commit === undefined ? {} : { commit: r.commit }), ...(r.path === undefined ? {} : { path: r.path }) })) };
});

connection.onNotification(HubTokenNotification, (params: HubTokenParams | undefined) => {
  const token = typeof params?.token === 'string' && HUB_TOKEN_SHAPE.test(params.token) ? params.token : undefined;
  if (token === editorHubToken) return;
  editorHubToken = token;
  hubLookups.forget();
  remoteFingerprints.forget();
  reanalyzeAll();
});

connection.onNotification(RegistryPasswordNotification, (params: RegistryPasswordParams | undefined) => {
  if (!registryAccess.setPassword(params)) return;
  registryOracle.invalidate();
  void refreshKnownIds().catch(() => undefined).then(reanalyzeAll);
});

connection.onNotification(WorkspaceTrustedNotification, () => {
  if (workspaceTrusted) return;
  workspaceTrusted = true;
  reanalyzeAll();
});

connection.onNotification(VisibleDocumentsNotification, (params: VisibleDocumentsParams | undefined) => {
  const uris = Array.isArray(params?.uris) ? params.uris.filter((u): u is string => typeof u === 'string') : [];
  scheduler.setVisible(uris, typeof params?.activeUri === 'string' ? params.activeUri : undefined);
});

connection.onRequest(RegistryInfoRequest, async (): Promise<RegistryInfoResult> => registryOracle.info());

connection.onRequest(AddToRegistryRequest, async (params: AddToRegistryParams, token): Promise<AddToRegistryResult> => {
  const controller = abortControllerFor(token);
  const target = await targetText(params.target);
  const resolution = await resolveTarget(target, controller.signal);
  const inspected = await engine.inspect(resolution, controller.signal);
  if (!inspected.fingerprint) throw new Error(`${target} could not be fingerprinted: ${inspected.facts.fingerprintError ?? 'no weights or tokenizer found'}`);
  const entry: { id?: string; revision?: string } = {};
  const id = params.id ?? resolution.repoId;
  if (id !== undefined) entry.id = id;
  const revision = params.revision ?? resolution.commit;
  if (revision !== undefined) entry.revision = revision;
  const added = await registryOracle.add(inspected.fingerprint, entry, controller.signal);
  log(`registry: ${added.outcome} ${added.id} (${added.kind}) in ${added.path}, now ${added.entries} entries`);
  // Verdicts of every open document may change: a reference may now match a known fingerprint.
  await refreshKnownIds().catch(() => undefined);
  reanalyzeAll();
  return { id: added.id, outcome: added.outcome, kind: added.kind, registryPath: added.path, registrySize: (await registryOracle.info()).entries };
});

connection.onRequest(ListReferencesRequest, (params, token) => listReferences(params, abortControllerFor(token).signal));

connection.onRequest(ExportBomRequest, async (params, token): Promise<ExportBomResult> => {
  const { references, truncated } = await listReferences({ waitForLineage: true }, abortControllerFor(token).signal);
  // The weight files of workspace models hashed as `lineage bom` does: one BOM for one workspace.
  return { bom: buildCycloneDxBom(references, params, await workspaceWeightHashes(references)), truncated };
});

/** Every reference of the given documents (default: the workspace's), open documents from their live analysis. */
async function listReferences(params: ListReferencesParams | undefined, signal: AbortSignal): Promise<ListReferencesResult> {
  const wait = params?.waitForLineage === true;
  const { uris, truncated } = params?.uris ? { uris: params.uris, truncated: false } : await workspaceDocumentUris();
  const references: ReferenceStatus[] = [];
  for (const uri of uris) {
    if (signal.aborted) break;
    const open = documents.get(uri);
    const state = states.get(uri);
    let analysis: DocumentAnalysis | undefined;
    if (open && state) {
      analysis = wait ? (await state.waiters.complete) ?? state.latest : await analysisFor(uri);
    } else {
      const fsPath = fsPathOf(uri);
      const text = fsPath === undefined ? undefined : await readFile(fsPath, 'utf8').catch(() => undefined);
      if (text === undefined || fsPath === undefined) continue;
      const policy = await policies.policyFor(workspaceFolderOf(fsPath)).catch(() => undefined);
      analysis = await analyzeDocument({ uri, version: 0, text, fsPath }, { ...analysisContext(signal), stopAfterResolution: !wait }).then((a) => withStandings(a, policy), () => undefined);
    }
    for (const reference of analysis?.references ?? []) references.push(reference.status);
  }
  return { references, truncated };
}

/** Supported files of every workspace folder (the walk `lineage check` does, honouring .gitignore), open documents first. */
async function workspaceDocumentUris(): Promise<{ uris: string[]; truncated: boolean }> {
  const uris = new Set(documents.all().map((d) => d.uri));
  let truncated = false;
  for (const folder of workspaceFolders) {
    const remaining = MAX_WORKSPACE_FILES - uris.size;
    if (remaining <= 0) {
      truncated = true;
      break;
    }
    const listed = await listWorkspaceFiles(folder, { maxFiles: remaining }).catch(() => ({ files: [] as string[], truncated: false }));
    for (const file of listed.files) uris.add(pathToFileURL(file).toString());
    truncated ||= listed.truncated;
  }
  return { uris: [...uris], truncated };
}

connection.onShutdown(async () => {
  for (const state of states.values()) state.controller?.abort();
  remoteFingerprints.forget();
  await runner.dispose();
});

documents.listen(connection);
connection.listen();
