// Reads the optional `.lineage.yaml` policy at a workspace folder's root (allowed base families,
// required pinning, severity overrides). A broken policy file is reported, never fatal.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { DiagnosticCode, SeveritySetting } from '../protocol';
import { parseSeverityMap } from './findings/severity';

export const POLICY_FILE_NAME = '.lineage.yaml';
const MAX_POLICY_BYTES = 256 * 1024;

export interface LineagePolicy {
  /** Base models a verified lineage must lead to: repo ids or globs (`meta-llama/*`) or architecture families (`llama`). */
  allowedBaseFamilies?: string[];
  requirePinnedRevisions?: boolean;
  severity: Partial<Record<DiagnosticCode, SeveritySetting>>;
  /** Problems reading the file, shown in the server log. */
  problems: string[];
  file?: string;
}

/**
 * Parses policy text. Accepted keys (snake_case or camelCase):
 *   allowed_base_families: [meta-llama/*, Qwen/*, llama]
 *   require_pinned_revisions: true
 *   severity: { LL003: error }
 */
export function parsePolicy(text: string, file?: string): LineagePolicy {
  const policy: LineagePolicy = { severity: {}, problems: [], file };
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    policy.problems.push(`${file ?? POLICY_FILE_NAME}: ${err instanceof Error ? err.message : String(err)}`);
    return policy;
  }
  if (raw === null || raw === undefined) return policy;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    policy.problems.push(`${file ?? POLICY_FILE_NAME}: expected a mapping at the top level`);
    return policy;
  }
  const map = raw as Record<string, unknown>;
  const pick = (snake: string, camel: string): unknown => map[snake] ?? map[camel];
  const families = pick('allowed_base_families', 'allowedBaseFamilies');
  if (Array.isArray(families)) policy.allowedBaseFamilies = families.filter((f): f is string => typeof f === 'string' && f.trim() !== '').map((f) => f.trim());
  else if (families !== undefined) policy.problems.push('allowed_base_families must be a list of strings');
  const pinning = pick('require_pinned_revisions', 'requirePinnedRevisions');
  if (typeof pinning === 'boolean') policy.requirePinnedRevisions = pinning;
  else if (pinning !== undefined) policy.problems.push('require_pinned_revisions must be true or false');
  policy.severity = parseSeverityMap(map['severity']);
  return policy;
}

/** True when a base repo id or an architecture family is allowed by the policy (no list = all allowed). */
export function isAllowedBase(policy: LineagePolicy | undefined, repoId: string, family?: string): boolean {
  const patterns = policy?.allowedBaseFamilies;
  if (patterns === undefined) return true;
  return patterns.some((pattern) => {
    const lower = pattern.toLowerCase();
    if (!lower.includes('/') && !lower.includes('*')) return lower === family?.toLowerCase() || lower === repoId.toLowerCase().split('/')[0];
    const regex = new RegExp('^' + lower.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
    return regex.test(repoId.toLowerCase());
  });
}

/** Loads the policy of a workspace folder, re-reading only when the file changed. */
export class PolicyStore {
  private readonly cached = new Map<string, { mtimeMs: number; policy: LineagePolicy | undefined }>();

  async policyFor(workspaceFolder: string | undefined): Promise<LineagePolicy | undefined> {
    if (workspaceFolder === undefined) return undefined;
    const file = path.join(workspaceFolder, POLICY_FILE_NAME);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      this.cached.delete(file);
      return undefined;
    }
    const hit = this.cached.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs) return hit.policy;
    const policy = info.size > MAX_POLICY_BYTES
      ? { severity: {}, problems: [`${file}: larger than ${MAX_POLICY_BYTES} bytes; ignored`], file }
      : parsePolicy(await readFile(file, 'utf8'), file);
    this.cached.set(file, { mtimeMs: info.mtimeMs, policy });
    return policy;
  }
}
