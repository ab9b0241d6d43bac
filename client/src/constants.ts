// Identifiers the extension shares with its manifest (package.json "contributes"): command ids,
// view ids and the settings section. test/client/manifest.test.ts keeps both sides in step.
import { ClientCommands } from '../../server/src/protocol';

/** Client id and settings prefix: `new LanguageClient('lineage', …)` is what makes `lineage.trace.server` work. */
export const CLIENT_ID = 'lineage';
export const CONFIGURATION_SECTION = 'lineage';
export const EXTENSION_ID = 'lineage-lens.lineage-lens';

export const Commands = {
  compareWith: ClientCommands.compareWith,
  showReference: ClientCommands.showReference,
  scanModel: 'lineage.scanModel',
  fingerprintFolder: 'lineage.fingerprintFolder',
  addToRegistry: 'lineage.addToRegistry',
  setHubToken: 'lineage.setHubToken',
  setRegistryPassword: 'lineage.setRegistryPassword',
  pinAllRevisions: 'lineage.pinAllRevisions',
  exportBom: 'lineage.exportBom',
  showInventory: 'lineage.showInventory',
  refreshModels: 'lineage.refreshModels',
  showOutput: 'lineage.showOutput',
  toggleOffline: 'lineage.toggleOffline',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const MODELS_VIEW_ID = 'lineage.models';
export const COMPARE_VIEW_TYPE = 'lineage.compare';

/** Languages the server reads references from (documentKindOf on the server decides by file name). */
export const DOCUMENT_LANGUAGES = [
  'python',
  'yaml',
  'json',
  'jsonc',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'dockerfile',
  'shellscript',
  'dotenv',
  'markdown',
  'modelfile',
] as const;

/** File extensions of weight files the Explorer context menu offers Compare/Scan on. */
export const WEIGHT_FILE_EXTENSIONS = ['.safetensors', '.gguf', '.bin', '.pt', '.pth', '.ckpt', '.onnx'] as const;
