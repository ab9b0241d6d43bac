// Options every repository-wide command shares (`check`, `lock`, `bom`): the root, the paths, offline,
// the registry and severities, turned into the analysis settings the editor would use.
import * as path from 'node:path';
import { isDiagnosticCode, isSeveritySetting } from '../analysis/findings/severity';
import { DEFAULT_SETTINGS } from '../analysis/settings';
import { isPostgresUrl } from '../core/registry';
import { checkWorkspace, type WorkspaceCheck } from '../analysis/workspaceCheck';
import { initPythonParser } from '../references';
import { existsSync } from 'node:fs';
import type { LineageSettings, SeveritySetting, DiagnosticCode } from '../protocol';
import { flag, stringOption, type OptionSpec, type ParsedArgs } from './args';
import { UsageError } from './exitCodes';
export { TOOL_VERSION } from '../protocol';

export const WORKSPACE_OPTIONS: OptionSpec = {
  root: { type: 'string' },
  offline: { type: 'boolean' },
  db: { type: 'string' },
  'no-shipped-db': { type: 'boolean' },
  severity: { type: 'string', multiple: true },
};

export const WORKSPACE_OPTIONS_USAGE = `  --root DIR          repository root: .gitignore, .lineage.yaml, lineage.lock.json (default: .)
  --offline           never ask the Hub (also HF_HUB_OFFLINE=1)
  --db FILE           your registry (default: $LINEAGE_CACHE_DIR/registry.sqlite)
  --no-shipped-db     leave out the reference database shipped with Lineage Lens
  --severity CODE=S   a code's severity (error, warning, information, hint, off); repeatable`;

export function settingsFrom(args: ParsedArgs): LineageSettings {
  const severity: Partial<Record<DiagnosticCode, SeveritySetting>> = {};
  const severities = args.values['severity'];
  for (const item of Array.isArray(severities) ? severities : []) {
    const [code, level] = item.split('=').map((s) => s.trim());
    const upper = (code ?? '').toUpperCase();
    if (!isDiagnosticCode(upper) || !isSeveritySetting(level)) throw new UsageError(`--severity expects CODE=LEVEL (e.g. LL003=error), got "${item}"`);
    severity[upper] = level;
  }
  const db = stringOption(args, 'db');
  return {
    ...DEFAULT_SETTINGS,
    diagnostics: { severity },
    offline: flag(args, 'offline'),
    // --db postgres://… names an organisation registry (consulted besides the user's); anything else a file.
    registry: db !== undefined && isPostgresUrl(db) ? { path: '', includeShipped: !flag(args, 'no-shipped-db'), url: db } : { path: db === undefined ? '' : path.resolve(db), includeShipped: !flag(args, 'no-shipped-db'), url: '' },
  };
}

/** Runs the editor's analysis over the repository (paths relative to the working directory). */
export async function analyzeWorkspace(args: ParsedArgs, onDocument?: (done: number, total: number) => void): Promise<WorkspaceCheck> {
  // The wasm files sit next to dist/cli.js in a build; from sources they come from node_modules.
  await initPythonParser(existsSync(path.join(__dirname, 'tree-sitter-python.wasm')) ? __dirname : undefined);
  const root = path.resolve(stringOption(args, 'root') ?? '.');
  const paths = args.positionals.map((p) => path.resolve(p));
  for (const p of paths) {
    if (p !== root && !p.startsWith(root + path.sep)) throw new UsageError(`${p} is outside the root ${root} (set --root)`);
  }
  const options: Parameters<typeof checkWorkspace>[0] = { root, paths, settings: settingsFrom(args) };
  if (onDocument) options.onDocument = onDocument;
  return checkWorkspace(options);
}
