// Runs code-server (a real VS Code with a Node extension host) on Node 24 with every file it writes
// kept under one folder, installs a .vsix into it, and stops the whole process tree afterwards.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CODE_SERVER_BIN, NODE24_BIN_DIR } from './setup';

export interface CodeServerOptions {
  /** Folder for config, user data, extensions and XDG dirs of this run. */
  stateDir: string;
  port: number;
  /** Extra environment for code-server and, through it, the extension host and the language server. */
  env?: NodeJS.ProcessEnv;
}

export interface RunningCodeServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function environment(options: CodeServerOptions): NodeJS.ProcessEnv {
  const state = options.stateDir;
  return {
    ...process.env,
    ...options.env,
    PATH: `${NODE24_BIN_DIR}${path.delimiter}${process.env['PATH'] ?? ''}`,
    XDG_CONFIG_HOME: path.join(state, 'xdg-config'),
    XDG_DATA_HOME: path.join(state, 'xdg-data'),
    XDG_CACHE_HOME: options.env?.['XDG_CACHE_HOME'] ?? path.join(state, 'xdg-cache'),
  };
}

function baseArgs(options: CodeServerOptions): string[] {
  const state = options.stateDir;
  return ['--config', path.join(state, 'config.yaml'), '--user-data-dir', path.join(state, 'user-data'), '--extensions-dir', path.join(state, 'extensions')];
}

/** Settings that keep the workbench quiet and deterministic (no welcome page, chat, updates, telemetry). */
function writeUserSettings(state: string): void {
  const folder = path.join(state, 'user-data', 'User');
  mkdirSync(folder, { recursive: true });
  writeFileSync(
    path.join(folder, 'settings.json'),
    JSON.stringify({
      'workbench.startupEditor': 'none',
      'chat.disableAIFeatures': true,
      'workbench.secondarySideBar.defaultVisibility': 'hidden',
      'telemetry.telemetryLevel': 'off',
      'extensions.autoUpdate': false,
      'update.mode': 'none',
      'workbench.tips.enabled': false,
      'editor.hover.delay': 200,
      'security.workspace.trust.enabled': false,
    }, null, 2),
  );
}

export function installExtension(options: CodeServerOptions, vsixPath: string): string {
  mkdirSync(options.stateDir, { recursive: true });
  return execFileSync(CODE_SERVER_BIN, [...baseArgs(options), '--install-extension', vsixPath, '--force'], { env: environment(options), encoding: 'utf8' });
}

async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`code-server did not answer ${url}/healthz within ${timeoutMs} ms`);
}

function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when there are none
  }
  return children.flatMap((child) => [...descendants(child), child]);
}

/** code-server leaves file watchers, the extension host and the language server behind on SIGTERM: end the tree by pid. */
function killTree(pid: number): void {
  for (const child of descendants(pid)) {
    try {
      process.kill(child, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

export async function startCodeServer(options: CodeServerOptions, folder: string): Promise<RunningCodeServer> {
  writeUserSettings(options.stateDir);
  const url = `http://127.0.0.1:${options.port}`;
  const args = [
    ...baseArgs(options),
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${options.port}`,
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    // Lets the browser workbench honour the ?payload= test keys (extensionTestsPath & co.).
    '--vscode-option', 'enable-smoke-test-driver',
    folder,
  ];
  const child = spawn(CODE_SERVER_BIN, args, { env: environment(options), stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()));
  try {
    await waitForHealth(url, 30_000);
  } catch (err) {
    killTree(child.pid!);
    throw new Error(`${(err as Error).message}\n${log.join('').slice(-2_000)}`);
  }
  return {
    url,
    process: child,
    stop: async () => {
      if (child.pid !== undefined) killTree(child.pid);
      await new Promise((resolve) => setTimeout(resolve, 300));
      writeFileSync(path.join(options.stateDir, 'code-server.log'), log.join(''));
    },
  };
}
