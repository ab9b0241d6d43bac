// Reads a PEFT adapter_config.json: which base model the adapter was trained on (and at which
// revision), the PEFT method and its rank / target modules.
import { parseJsonObject, readMetadataTextFile } from './config';

export interface AdapterConfig {
  file: string;
  /** `base_model_name_or_path`: a Hub id or a local path, as the trainer wrote it. */
  baseModelNameOrPath?: string;
  /** `revision` of the base model, when PEFT recorded one. */
  revision?: string;
  /** `peft_type`: LORA, IA3, PREFIX_TUNING, ... */
  peftType?: string;
  taskType?: string;
  /** LoRA rank. */
  r?: number;
  loraAlpha?: number;
  /** Module names, or one regex string (PEFT accepts both). */
  targetModules?: string[] | string;
  raw: Record<string, unknown>;
}

const MAX_TARGET_MODULES = 1_000;

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function parseAdapterConfig(raw: Record<string, unknown>, file: string): AdapterConfig {
  const config: AdapterConfig = { file, raw };
  const base = nonEmptyString(raw['base_model_name_or_path']);
  if (base !== undefined) config.baseModelNameOrPath = base;
  const revision = nonEmptyString(raw['revision']);
  if (revision !== undefined) config.revision = revision;
  const peftType = nonEmptyString(raw['peft_type']);
  if (peftType !== undefined) config.peftType = peftType;
  const taskType = nonEmptyString(raw['task_type']);
  if (taskType !== undefined) config.taskType = taskType;
  const r = finiteNumber(raw['r']);
  if (r !== undefined) config.r = r;
  const alpha = finiteNumber(raw['lora_alpha']);
  if (alpha !== undefined) config.loraAlpha = alpha;
  const targets = raw['target_modules'];
  if (typeof targets === 'string') config.targetModules = targets;
  else if (Array.isArray(targets)) config.targetModules = targets.filter((t): t is string => typeof t === 'string').slice(0, MAX_TARGET_MODULES);
  return config;
}

/** Reads `adapter_config.json` of a folder (bounded, contained); undefined when there is none. */
export async function readAdapterConfig(folder: string, name = 'adapter_config.json'): Promise<AdapterConfig | undefined> {
  const read = await readMetadataTextFile(folder, name);
  return read && parseAdapterConfig(parseJsonObject(read.text, read.file), read.file);
}
