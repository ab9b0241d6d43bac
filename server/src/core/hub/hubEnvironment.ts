// Where and how to reach the Hub, by huggingface_hub's conventions: HF_ENDPOINT, HF_TOKEN (then
// HUGGING_FACE_HUB_TOKEN, then the token file `hf auth login` writes), HF_HUB_OFFLINE=1.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';
/** A token is a few dozen bytes; the file is read no further than this. */
const MAX_TOKEN_FILE_BYTES = 4_096;
/** huggingface_hub's truthy spellings of HF_HUB_OFFLINE. */
const TRUTHY = new Set(['1', 'true', 'yes', 'on']);

/** HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) set to a truthy value. */
export function hubOfflineByEnv(env: NodeJS.ProcessEnv): boolean {
  return ['HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'].some((name) => TRUTHY.has((env[name] ?? '').trim().toLowerCase()));
}

/** HF_ENDPOINT without trailing slashes, else the public Hub. */
export function hubEndpointFromEnv(env: NodeJS.ProcessEnv): string {
  const value = env['HF_ENDPOINT']?.trim();
  return value ? value.replace(/\/+$/, '') : DEFAULT_HUB_ENDPOINT;
}

/** HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the token file. Never logged. */
export async function readHubToken(env: NodeJS.ProcessEnv, homeDirectory = os.homedir()): Promise<string | undefined> {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN']) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return readTokenFile(hubTokenFilePath(env, homeDirectory));
}

/** $HF_TOKEN_PATH, else $HF_HOME/token, else $XDG_CACHE_HOME/huggingface/token, else ~/.cache/huggingface/token. */
export function hubTokenFilePath(env: NodeJS.ProcessEnv, homeDirectory: string): string {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw ? raw.replace(/^~(?=[\\/]|$)/, homeDirectory) : undefined;
  };
  const explicit = value('HF_TOKEN_PATH');
  if (explicit !== undefined) return explicit;
  const hfHome = value('HF_HOME') ?? path.join(value('XDG_CACHE_HOME') ?? path.join(homeDirectory, '.cache'), 'huggingface');
  return path.join(hfHome, 'token');
}

/** The first line of a regular file, read no further than MAX_TOKEN_FILE_BYTES. */
async function readTokenFile(file: string): Promise<string | undefined> {
  // Non-blocking open: a FIFO placed there must not hang.
  const handle = await open(file, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0)).catch(() => undefined);
  if (!handle) return undefined;
  try {
    if (!(await handle.stat()).isFile()) return undefined;
    const buffer = Buffer.alloc(MAX_TOKEN_FILE_BYTES);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const token = buffer.subarray(0, bytesRead).toString('utf8').split(/\r?\n/, 1)[0]?.trim();
    return token ? token : undefined;
  } catch {
    return undefined;
  } finally {
    await handle.close().catch(() => undefined);
  }
}
