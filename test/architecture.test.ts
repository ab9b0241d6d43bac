// The architecture map (docs/ARCHITECTURE.md) enforced over the import graph: which layer may import
// which, that the client bundles nothing of the server but protocol/, and that the map names every
// folder of the tree and no folder that is gone.
import * as assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

interface ImportEdge {
  from: string;
  /** Repository-relative file the specifier resolves to, or the package name. */
  to: string;
  typeOnly: boolean;
  isPackage: boolean;
}

function sourceFiles(folder: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, folder), { withFileTypes: true })) {
    const relative = path.posix.join(folder, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(relative));
    else if (entry.name.endsWith('.ts')) out.push(relative);
  }
  return out;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g;

function resolveSpecifier(from: string, specifier: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}/index.ts`]) {
    if (existsSync(path.join(ROOT, candidate)) && statSync(path.join(ROOT, candidate)).isFile()) return candidate;
  }
  return base;
}

function importsOf(file: string): ImportEdge[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const edges: ImportEdge[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[2] ?? match[3] ?? match[4]!;
    const typeOnly = match[1] !== undefined;
    if (specifier.startsWith('.')) edges.push({ from: file, to: resolveSpecifier(file, specifier), typeOnly, isPackage: false });
    else edges.push({ from: file, to: specifier, typeOnly, isPackage: true });
  }
  return edges;
}

/** The layer a file belongs to: `core/<folder>` inside the engine, else the top folder under server/src, or `client`. */
function layerOf(file: string): string {
  if (file.startsWith('client/')) return 'client';
  const parts = file.split('/');
  if (parts[0] !== 'server' || parts[1] !== 'src') return 'other';
  if (parts[2] === 'core') return parts.length > 4 ? `core/${parts[3]}` : 'core';
  return parts[2]!;
}

/** Order of the engine's folders: each may import only folders of a lower rank (and itself). */
const CORE_RANK: Readonly<Record<string, number>> = {
  core: 0,
  'core/util': 0,
  'core/io': 1,
  'core/formats': 2,
  'core/tokenizers': 3,
  'core/model': 4,
  'core/hub': 5,
  'core/checks': 5,
  'core/fingerprint': 6,
  'core/compare': 7,
  'core/registry': 8,
};

/** Which server layers each layer may import (values and types alike), besides itself. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  references: ['core'],
  protocol: [],
  analysis: ['core', 'references', 'protocol'],
  lsp: ['analysis', 'core', 'references', 'protocol'],
  cli: ['analysis', 'core', 'references', 'protocol'],
  client: ['protocol'],
};

/** Engine modules protocol/ may import values from: pure text helpers, no I/O, nothing else from core. */
const PROTOCOL_VALUE_IMPORTS: ReadonlySet<string> = new Set(['server/src/core/util/pValueText.ts']);

const EDITOR_PACKAGES = /^(?:vscode|vscode-languageserver|vscode-languageserver-textdocument|vscode-languageclient)(?:\/|$)/;

const edges = [...sourceFiles('server/src'), ...sourceFiles('client/src')].flatMap(importsOf);

function violations(predicate: (edge: ImportEdge) => string | undefined): string[] {
  return edges.map((edge) => predicate(edge)).filter((v): v is string => v !== undefined);
}

describe('architecture: the import rules of docs/ARCHITECTURE.md', () => {
  it('finds the imports it checks (the scanner works)', () => {
    assert.ok(edges.length > 500, `only ${edges.length} imports found`);
    assert.ok(edges.some((e) => e.from === 'server/src/lsp/server.ts' && e.to === 'server/src/analysis/documentAnalysis.ts'));
    assert.ok(edges.some((e) => e.from === 'server/src/protocol/types.ts' && e.typeOnly && e.to.startsWith('server/src/core/')));
  });

  it('the engine (core) imports no editor, LSP, CLI, analysis or protocol code, and its folders point one way', () => {
    const found = violations((edge) => {
      const from = layerOf(edge.from);
      if (!from.startsWith('core')) return undefined;
      if (edge.isPackage) return EDITOR_PACKAGES.test(edge.to) ? `${edge.from} imports ${edge.to}` : undefined;
      const to = layerOf(edge.to);
      if (!to.startsWith('core')) return `${edge.from} imports ${edge.to} (${to})`;
      if (from !== to && CORE_RANK[to]! >= CORE_RANK[from]!) return `${edge.from} (${from}) imports ${edge.to} (${to}), which is not below it`;
      return undefined;
    });
    assert.deepEqual(found, []);
  });

  it('each layer imports only the layers below it', () => {
    const found = violations((edge) => {
      const from = layerOf(edge.from);
      if (from.startsWith('core') || edge.isPackage) return undefined;
      const to = layerOf(edge.to);
      const toLayer = to.startsWith('core') ? 'core' : to;
      if (toLayer === from) return undefined;
      // protocol/ names engine result types, never engine code: type-only imports of core are its way down,
      // plus the pure wording helpers of core/util that the engine's own messages share (one implementation).
      if (from === 'protocol' && (toLayer === 'core' || toLayer === 'references') && edge.typeOnly) return undefined;
      if (from === 'protocol' && PROTOCOL_VALUE_IMPORTS.has(edge.to)) return undefined;
      return ALLOWED[from]?.includes(toLayer) ? undefined : `${edge.from} (${from}) imports ${edge.to} (${toLayer})`;
    });
    assert.deepEqual(found, []);
  });

  it('analysis and the CLI import no LSP or VS Code packages; protocol imports only the protocol package', () => {
    const found = violations((edge) => {
      const from = layerOf(edge.from);
      if (!edge.isPackage) return undefined;
      if ((from === 'analysis' || from === 'cli' || from === 'references') && EDITOR_PACKAGES.test(edge.to)) return `${edge.from} imports ${edge.to}`;
      if (from === 'protocol' && edge.to !== 'vscode-languageserver-protocol') return `${edge.from} imports ${edge.to}`;
      return undefined;
    });
    assert.deepEqual(found, []);
  });
});

describe('architecture: docs/ARCHITECTURE.md matches the tree', () => {
  const map = readFileSync(path.join(ROOT, 'docs/ARCHITECTURE.md'), 'utf8');

  function folders(root: string, depth: number): string[] {
    const out: string[] = [];
    for (const entry of readdirSync(path.join(ROOT, root), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const relative = path.posix.join(root, entry.name);
      out.push(relative);
      if (depth > 1) out.push(...folders(relative, depth - 1));
    }
    return out;
  }

  it('names every source folder', () => {
    const missing = [...folders('server/src', 2), ...folders('client/src', 1)].filter((folder) => {
      const short = folder.replace(/^server\/src\//, '').replace(/^client\/src\//, 'client/');
      return !map.includes(`\`${folder}/\``) && !map.includes(`\`${short}/\``);
    });
    assert.deepEqual(missing, [], 'folders the map does not describe');
  });

  it('names no path that does not exist', () => {
    const named = [...map.matchAll(/`((?:server|client|test|scripts|docs|data|media)\/[A-Za-z0-9_./-]*)`/g)].map((m) => m[1]!.replace(/\/$/, ''));
    assert.ok(named.length > 10, 'the map names paths');
    assert.deepEqual(named.filter((p) => !existsSync(path.join(ROOT, p))), []);
  });
});
