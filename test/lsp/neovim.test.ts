// Neovim headless as a second, independent LSP client of dist/server.js: its own JSON-RPC stack must
// receive Lineage diagnostics and a hover. Skipped (with the reason) when nvim is not installed.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { buildFixtureWorkspace, PY_LINES, serverEnv, type FixtureWorkspace } from './fixtureWorkspace';
import { SERVER_PATH } from './lspClient';

const LUA_SCRIPT = path.join(__dirname, 'nvim', 'lsp_check.lua');

interface NeovimReport {
  ok: boolean;
  err?: string;
  diagnostics?: Array<{ lnum: number; col: number; code: string; severity: number; source: string }>;
  hover?: string;
  server_exit?: { code: number; signal: number };
}

describe('Neovim headless as an LSP client', function () {
  this.timeout(120_000);
  let fixture: FixtureWorkspace | undefined;

  before(function () {
    if (spawnSync('nvim', ['--version'], { encoding: 'utf8' }).status !== 0) {
      console.log('    (skipped: nvim is not installed; apt-get install -y neovim enables this test)');
      this.skip();
    }
  });

  after(async () => {
    if (fixture) await rm(fixture.root, { recursive: true, force: true });
  });

  it('receives diagnostics and a hover from the server', async () => {
    fixture = await buildFixtureWorkspace();
    const state = path.join(fixture.root, 'nvim-state');
    await mkdir(state, { recursive: true });
    const outFile = path.join(fixture.root, 'nvim-report.json');
    await writeFile(outFile, '');
    const result = spawnSync('nvim', ['--headless', '--clean', '-n', '-u', 'NONE', '-c', `luafile ${LUA_SCRIPT}`, 'app.py'], {
      cwd: fixture.workspace,
      encoding: 'utf8',
      timeout: 90_000,
      env: {
        ...process.env,
        ...serverEnv(fixture),
        XDG_CACHE_HOME: path.join(state, 'cache'),
        XDG_STATE_HOME: path.join(state, 'state'),
        XDG_DATA_HOME: path.join(state, 'data'),
        LINEAGE_SERVER: SERVER_PATH,
        LINEAGE_OUT: outFile,
        LINEAGE_HOVER_LINE: String(PY_LINES.medical),
        LINEAGE_HOVER_CHARACTER: '50',
      },
    });
    const reportText = await readFile(outFile, 'utf8');
    assert.ok(reportText.length > 0, `nvim wrote no report (exit ${result.status}): ${result.stderr}`);
    const report = JSON.parse(reportText) as NeovimReport;
    assert.equal(report.ok, true, report.err);
    assert.equal(result.status, 0);
    const codes = (report.diagnostics ?? []).map((d) => `${d.lnum}:${d.code}`);
    assert.ok(codes.includes(`${PY_LINES.medical}:LL003`), codes.join(', '));
    assert.ok(codes.includes(`${PY_LINES.stories}:LL002`), codes.join(', '));
    assert.ok((report.diagnostics ?? []).every((d) => d.source === 'lineage'));
    // The shipped reference database recognises the renamed copy; the local cache shows its base.
    assert.match(report.hover ?? '', /verified: identical to camara-mohamed23\/tiny-gpt2-medical/);
    assert.match(report.hover ?? '', /`sshleifer\/tiny-gpt2` @ 111111111111: derived/);
    assert.equal(report.server_exit?.code, 0);
  });
});
