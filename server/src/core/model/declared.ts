// Gathers what a model's own files claim about its parents (card, adapter config, config.json
// `_name_or_path`, GGUF `general.base_model.*` / `general.source.*`). Claims are unverified.
import * as path from 'node:path';
import { errorMessage } from '../errors';
import { readAdapterConfig, type AdapterConfig } from './adapter';
import { readModelCard, type ModelCard } from './card';
import { readConfigJson } from './config';
import { parseModelReference } from './reference';
import { appendAll } from '../util/arrays';

export type ClaimSource =
  | 'card'
  /** A Hub link in the card's text ("fine-tuned version of [x](https://huggingface.co/x)"): weaker than metadata. */
  | 'card.prose'
  | 'adapter_config'
  | 'config._name_or_path'
  | 'gguf.general.base_model'
  | 'gguf.general.source';

export interface LineageClaim {
  /** A Hub repo id when one could be derived; otherwise the text the file gives (a name or URL). */
  baseModel: string;
  relation?: string;
  /** Revision of the base, when the file states one (adapter_config `revision`). */
  revision?: string;
  source: ClaimSource;
  file: string;
}

export interface DeclaredLineage {
  claims: LineageClaim[];
  /** Metadata files that exist but could not be read (bad YAML, too large, ...). */
  warnings?: string[];
}

export interface CollectDeclaredLineageOptions {
  /** An already-parsed config.json (skips reading it again). */
  config?: Record<string, unknown>;
  /** GGUF metadata of the weights, when the model is a GGUF file. */
  ggufMetadata?: ReadonlyMap<string, unknown>;
  /** File the GGUF metadata came from, for claim locations. */
  ggufFile?: string;
}

/** llama.cpp writes at most a handful; a huge count is hostile and is capped. */
const MAX_GGUF_BASE_MODELS = 64;

/** A Hub repo id from an id, `hf://` URI or Hub URL; undefined for local paths and other text. */
function hubModelId(text: string): string | undefined {
  const reference = parseModelReference(text);
  return reference?.kind === 'hub' && reference.repoType === 'model' ? reference.repoId : undefined;
}

export function claimsFromCard(card: ModelCard): LineageClaim[] {
  const claims: LineageClaim[] = [];
  for (const base of card.metadata?.baseModels ?? []) {
    // The Hub ignores local paths (`./outputs`) in base_model; so do we.
    const repoId = hubModelId(base);
    if (repoId === undefined) continue;
    const claim: LineageClaim = { baseModel: repoId, source: 'card', file: card.file };
    if (card.metadata?.baseModelRelation !== undefined) claim.relation = card.metadata.baseModelRelation;
    claims.push(claim);
  }
  for (const prose of card.proseBaseModels) {
    const claim: LineageClaim = { baseModel: prose.repoId, source: 'card.prose', file: card.file };
    if (prose.relation !== undefined) claim.relation = prose.relation;
    claims.push(claim);
  }
  return claims;
}

export function claimsFromAdapterConfig(adapter: AdapterConfig): LineageClaim[] {
  const base = adapter.baseModelNameOrPath;
  const repoId = base === undefined ? undefined : hubModelId(base);
  if (repoId === undefined) return [];
  const claim: LineageClaim = { baseModel: repoId, relation: 'adapter', source: 'adapter_config', file: adapter.file };
  if (adapter.revision !== undefined) claim.revision = adapter.revision;
  return [claim];
}

/**
 * `_name_or_path` is whatever was passed to from_pretrained: often a local folder ("/tmp/x", ".",
 * "outputs"). Only a namespaced Hub id counts, since a bare word is as likely a folder name.
 */
export function claimsFromConfig(config: Record<string, unknown>, file: string): LineageClaim[] {
  const value = config['_name_or_path'];
  if (typeof value !== 'string') return [];
  const reference = parseModelReference(value);
  if (reference?.kind !== 'hub' || reference.source !== 'id' || !reference.repoId.includes('/')) return [];
  return [{ baseModel: reference.repoId, source: 'config._name_or_path', file }];
}

function metadataString(metadata: ReadonlyMap<string, unknown>, key: string): string | undefined {
  const value = metadata.get(key);
  return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, 1024) : undefined;
}

function metadataCount(metadata: ReadonlyMap<string, unknown>, key: string): number {
  const value = metadata.get(key);
  const n = typeof value === 'bigint' ? Number(value > BigInt(MAX_GGUF_BASE_MODELS) ? MAX_GGUF_BASE_MODELS : value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? Math.min(n, MAX_GGUF_BASE_MODELS) : 0;
}

/**
 * `general.base_model.{i}.repo_url` gives a Hub id; without one, `organization/name` (display
 * names, e.g. "Meta Llama/Llama 3.1 8B") is kept as the claim text. `general.source.*` names the
 * repo the weights were converted from, which the Hub lists as a quantization.
 */
export function claimsFromGgufMetadata(metadata: ReadonlyMap<string, unknown>, file: string): LineageClaim[] {
  const claims: LineageClaim[] = [];
  const count = metadataCount(metadata, 'general.base_model.count');
  for (let i = 0; i < count; i++) {
    const prefix = `general.base_model.${i}`;
    const url = metadataString(metadata, `${prefix}.repo_url`) ?? metadataString(metadata, `${prefix}.url`);
    const name = metadataString(metadata, `${prefix}.name`);
    const organization = metadataString(metadata, `${prefix}.organization`);
    const baseModel = (url && hubModelId(url)) ?? (name && organization ? `${organization}/${name}` : name ?? url);
    if (baseModel !== undefined) claims.push({ baseModel, source: 'gguf.general.base_model', file });
  }
  const sourceUrl =
    metadataString(metadata, 'general.source.repo_url') ??
    metadataString(metadata, 'general.source.url') ??
    // Older llama.cpp converters wrote this misspelled key.
    metadataString(metadata, 'general.source.hugginface.repository') ??
    metadataString(metadata, 'general.source.huggingface.repository');
  if (sourceUrl !== undefined) {
    claims.push({ baseModel: hubModelId(sourceUrl) ?? sourceUrl, relation: 'quantized', source: 'gguf.general.source', file });
  }
  return claims;
}

/** Every claim the model folder (and GGUF metadata, if given) makes; unreadable files become warnings. */
export async function collectDeclaredLineage(folder: string, options: CollectDeclaredLineageOptions = {}): Promise<DeclaredLineage> {
  const claims: LineageClaim[] = [];
  const warnings: string[] = [];
  const attempt = async (what: string, body: () => Promise<void>): Promise<void> => {
    try {
      await body();
    } catch (err) {
      warnings.push(`${what}: ${errorMessage(err)}`);
    }
  };
  await attempt('model card', async () => {
    const card = await readModelCard(folder);
    if (!card) return;
    appendAll(claims, claimsFromCard(card));
    appendAll(warnings, card.warnings.map((w) => `${card.file}: ${w}`));
  });
  await attempt('adapter config', async () => {
    const adapter = await readAdapterConfig(folder);
    if (adapter) appendAll(claims, claimsFromAdapterConfig(adapter));
  });
  await attempt('config', async () => {
    const config = options.config ?? (await readConfigJson(folder));
    if (config) appendAll(claims, claimsFromConfig(config, path.join(folder, 'config.json')));
  });
  if (options.ggufMetadata) appendAll(claims, claimsFromGgufMetadata(options.ggufMetadata, options.ggufFile ?? folder));
  const lineage: DeclaredLineage = { claims };
  if (warnings.length > 0) lineage.warnings = warnings;
  return lineage;
}

/** The distinct base models claimed, case-insensitively (the Hub ignores case), in first-seen order. */
export function declaredBaseModels(lineage: DeclaredLineage): string[] {
  const seen = new Map<string, string>();
  for (const claim of lineage.claims) {
    const key = claim.baseModel.toLowerCase();
    if (!seen.has(key)) seen.set(key, claim.baseModel);
  }
  return [...seen.values()];
}
