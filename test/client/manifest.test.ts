// The extension manifest (package.json) against the code: every command contributed is registered and
// vice versa, activation never uses `*`, settings that point elsewhere are restricted in untrusted workspaces.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CLIENT_ID, Commands, CONFIGURATION_SECTION, DOCUMENT_LANGUAGES, MODELS_VIEW_ID } from '../../client/src/constants';
import { ALL_DIAGNOSTIC_CODES } from '../../server/src/protocol';

interface Manifest {
  main: string;
  activationEvents: string[];
  capabilities: { untrustedWorkspaces: { supported: string; restrictedConfigurations: string[] }; virtualWorkspaces: { supported: boolean | string; description?: string } };
  contributes: {
    commands: Array<{ command: string; title: string; category?: string }>;
    menus: Record<string, Array<{ command: string; when?: string }>>;
    views: { explorer: Array<{ id: string }> };
    configuration: { properties: Record<string, { scope?: string; enum?: string[]; properties?: Record<string, unknown> }> };
  };
}

const ROOT = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as Manifest;

describe('client manifest', () => {
  it('keeps main on the esbuild client bundle', () => {
    assert.equal(manifest.main, './dist/client.js');
  });

  it('activates on the languages the server reads and on top-level file names, never on * or a tree-wide glob', () => {
    assert.ok(!manifest.activationEvents.includes('*'));
    for (const language of DOCUMENT_LANGUAGES) assert.ok(manifest.activationEvents.includes(`onLanguage:${language}`), language);
    // A glob makes VS Code search the whole tree at startup (and time out on big workspaces): file names only.
    for (const event of manifest.activationEvents.filter((e) => e.startsWith('workspaceContains:'))) assert.doesNotMatch(event, /[*?{[]/, event);
    assert.ok(manifest.activationEvents.includes('workspaceContains:.lineage.yaml'));
    // A misspelt event is silently ignored by VS Code (see vscode-testing.md, the Socket extension).
    for (const event of manifest.activationEvents) assert.match(event, /^(onLanguage|workspaceContains|onCommand|onView):/);
  });

  it('contributes exactly the commands the extension registers, all named Lineage (menus show the prefix too)', () => {
    const contributed: string[] = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual(contributed, [...Object.values(Commands)].sort() as string[]);
    for (const command of manifest.contributes.commands) assert.ok(command.category === 'Lineage' || command.title.startsWith('Lineage: '), command.command);
    // Context menus show a command's title without its category: their commands say "Lineage:" themselves.
    for (const menu of ['explorer/context', 'editor/context']) {
      for (const item of manifest.contributes.menus[menu]!) {
        const command = manifest.contributes.commands.find((c) => c.command === item.command)!;
        assert.match(command.title, /^Lineage: /, `${menu}: ${command.command}`);
        assert.equal(command.category, undefined, `${command.command} would read "Lineage: Lineage: …" in the palette`);
      }
    }
    for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
      for (const item of items) assert.ok(contributed.includes(item.command), `${menu} names unknown command ${item.command}`);
    }
    assert.ok(manifest.contributes.menus['explorer/context']!.some((m) => m.command === Commands.fingerprintFolder && m.when === 'explorerResourceIsFolder'));
  });

  it('declares the Models view in the Explorer', () => {
    assert.deepEqual(manifest.contributes.views.explorer.map((v) => v.id), [MODELS_VIEW_ID]);
  });

  it('names settings after the client id so lineage.trace.server works, with resource scope where it matters', () => {
    assert.equal(CLIENT_ID, CONFIGURATION_SECTION);
    const properties = manifest.contributes.configuration.properties;
    assert.ok(properties[`${CLIENT_ID}.trace.server`]);
    assert.equal(properties['lineage.diagnostics.severity']!.scope, 'resource');
    assert.deepEqual(Object.keys(properties['lineage.diagnostics.severity']!.properties!).sort(), [...ALL_DIAGNOSTIC_CODES].sort());
    assert.equal(properties['lineage.hub.endpoint']!.scope, 'machine');
    for (const key of ['lineage.offline', 'lineage.fingerprint.maxBytesPerModel', 'lineage.registry.path', 'lineage.registry.url', 'lineage.cache.folder', 'lineage.hub.remoteFingerprint', 'lineage.hub.remoteBudgetBytes']) assert.ok(properties[key], key);
    assert.deepEqual(properties['lineage.hub.remoteFingerprint']!.enum, ['auto', 'off']);
  });

  it('restricts settings that point at other files or servers in untrusted workspaces, and opts out of virtual ones', () => {
    const trust = manifest.capabilities.untrustedWorkspaces;
    assert.equal(trust.supported, 'limited');
    assert.deepEqual([...trust.restrictedConfigurations].sort(), ['lineage.cache.folder', 'lineage.hub.endpoint', 'lineage.hub.remoteBudgetBytes', 'lineage.hub.remoteFingerprint', 'lineage.registry.path', 'lineage.registry.url']);
    for (const key of trust.restrictedConfigurations) assert.ok(manifest.contributes.configuration.properties[key], key);
    assert.equal(manifest.capabilities.virtualWorkspaces.supported, false);
    assert.ok(manifest.capabilities.virtualWorkspaces.description);
  });

  it('packages only bundles, wasm, media, the manifest, README, LICENSE and the embedded reference database', () => {
    const ignore = readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    assert.deepEqual(ignore, ['**', '!dist/*.js', '!dist/*.wasm', '!media/**', '!package.json', '!README.md', '!LICENSE', '!data/reference.sqlite']);
  });
});
