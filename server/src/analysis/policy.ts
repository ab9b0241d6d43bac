// Reads the optional `.lineage.yaml` policy at a workspace folder's root: allowed and blocked
// organisations, base families, required pinning and base verdicts, severities, ignores. Never fatal.
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { Verdict } from '../core/compare/types';
import type { DiagnosticCode, Range, SeveritySetting } from '../protocol';
import { isDiagnosticCode, parseSeverityMap } from './findings/severity';

export const POLICY_FILE_NAME = '.lineage.yaml';
const MAX_POLICY_BYTES = 256 * 1024;
const MAX_IGNORES = 1_000;

const VERDICTS: ReadonlySet<string> = new Set<Verdict>(['identical', 'same-weights', 'quantized', 'derived', 'merge', 'same-family', 'unrelated', 'inconclusive']);

/** One `ignores:` entry: findings of `code` (in `path`, on `id`) are not reported until `expires`. */
export interface PolicyIgnore {
  code?: DiagnosticCode;
  /** Glob over the document's path relative to the policy's folder (`**`, `*`, `?`). */
  path?: string;
  /** Repo id or path as written in the reference (case-insensitive). */
  id?: string;
  reason?: string;
  /** `YYYY-MM-DD`: the ignore applies through the end of that day (UTC). */
  expires?: string;
  /** Where the entry is in the policy file (LL013 points there). */
  range: Range;
  /** Why the entry is not usable (no reason, no or bad expiry, unknown code); an invalid ignore ignores nothing. */
  invalid?: string;
}

export interface LineagePolicy {
  /** Base models a verified lineage must lead to: repo ids or globs (`meta-llama/*`) or architecture families (`llama`). */
  allowedBaseFamilies?: string[];
  /** Organisations references may name (globs, case-insensitive); absent: all but the blocked ones. */
  allowedOrganisations?: string[];
  blockedOrganisations?: string[];
  requirePinnedRevisions?: boolean;
  /** Verdicts a checked declared base must reach (`derived`, `quantized`, …); others are LL012. */
  requiredBaseVerdicts?: Verdict[];
  severity: Partial<Record<DiagnosticCode, SeveritySetting>>;
  ignores?: PolicyIgnore[];
  /** Problems reading the file, shown in the server log and on the CLI's stderr. */
  problems: string[];
  file?: string;
}

/** An empty policy (no file): only the defaults apply. */
export function emptyPolicy(file?: string): LineagePolicy {
  return { severity: {}, ignores: [], problems: [], file };
}

/**
 * Parses policy text. Accepted keys (snake_case or camelCase; `organizations` spelled either way):
 *   allowed_base_families: [meta-llama/*, Qwen/*, llama]
 *   allowed_organisations: [meta-llama, Qwen, acme-*]
 *   blocked_organisations: [evil-org]
 *   require_pinned_revisions: true
 *   required_base_verdicts: [identical, same-weights, quantized, derived]
 *   severity: { LL003: error }
 *   ignores:
 *     - { code: LL005, path: legacy/**, id: acme/old, reason: "vendored, reviewed", expires: 2026-06-30 }
 */
export function parsePolicy(text: string, file?: string): LineagePolicy {
  const policy = emptyPolicy(file);
  const label = file ?? POLICY_FILE_NAME;
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: false });
  if (document.errors.length > 0) {
    policy.problems.push(`${label}: ${document.errors[0]!.message}`);
    return policy;
  }
  let raw: unknown;
  try {
    raw = document.toJS({ maxAliasCount: 100 });
  } catch (err) {
    policy.problems.push(`${label}: ${err instanceof Error ? err.message : String(err)}`);
    return policy;
  }
  if (raw === null || raw === undefined) return policy;
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    policy.problems.push(`${label}: expected a mapping at the top level`);
    return policy;
  }
  const map = raw as Record<string, unknown>;
  const pick = (...names: string[]): unknown => names.map((n) => map[n]).find((v) => v !== undefined);
  const stringList = (key: string, value: unknown): string[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      policy.problems.push(`${key} must be a list of strings`);
      return undefined;
    }
    return value.filter((f): f is string => typeof f === 'string' && f.trim() !== '').map((f) => f.trim());
  };
  const families = stringList('allowed_base_families', pick('allowed_base_families', 'allowedBaseFamilies'));
  if (families) policy.allowedBaseFamilies = families;
  const allowedOrgs = stringList('allowed_organisations', pick('allowed_organisations', 'allowed_organizations', 'allowedOrganisations', 'allowedOrganizations'));
  if (allowedOrgs) policy.allowedOrganisations = allowedOrgs;
  const blockedOrgs = stringList('blocked_organisations', pick('blocked_organisations', 'blocked_organizations', 'blockedOrganisations', 'blockedOrganizations'));
  if (blockedOrgs) policy.blockedOrganisations = blockedOrgs;
  const pinning = pick('require_pinned_revisions', 'requirePinnedRevisions');
  if (typeof pinning === 'boolean') policy.requirePinnedRevisions = pinning;
  else if (pinning !== undefined) policy.problems.push('require_pinned_revisions must be true or false');
  const verdicts = stringList('required_base_verdicts', pick('required_base_verdicts', 'requiredBaseVerdicts'));
  if (verdicts) {
    const unknown = verdicts.filter((v) => !VERDICTS.has(v));
    if (unknown.length > 0) policy.problems.push(`required_base_verdicts: unknown verdict(s) ${unknown.join(', ')}`);
    policy.requiredBaseVerdicts = verdicts.filter((v): v is Verdict => VERDICTS.has(v));
  }
  policy.severity = parseSeverityMap(map['severity']);
  policy.ignores = parseIgnores(document.get('ignores', true) as YamlNode | undefined, lineCounter, policy.problems);
  return policy;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseIgnores(node: YamlNode | undefined, lines: LineCounter, problems: string[]): PolicyIgnore[] {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) {
    problems.push('ignores must be a list of { code, reason, expires, path?, id? }');
    return [];
  }
  const ignores: PolicyIgnore[] = [];
  for (const item of node.items.slice(0, MAX_IGNORES)) {
    const itemNode = item as YamlNode;
    const range = rangeOf(itemNode, lines);
    if (!isMap(itemNode)) {
      ignores.push({ range, invalid: 'an ignore must be a mapping with code, reason and expires' });
      continue;
    }
    const value = (itemNode.toJSON() ?? {}) as Record<string, unknown>;
    const text = (key: string): string | undefined => {
      const v = value[key];
      if (v instanceof Date) return v.toISOString().slice(0, 10);
      return typeof v === 'string' || typeof v === 'number' ? String(v).trim() || undefined : undefined;
    };
    const ignore: PolicyIgnore = { range };
    const problems: string[] = [];
    const code = text('code')?.toUpperCase();
    if (code === undefined) problems.push('no code');
    else if (!isDiagnosticCode(code)) problems.push(`unknown code ${code}`);
    else ignore.code = code;
    const reason = text('reason');
    if (reason === undefined) problems.push('no reason');
    else ignore.reason = reason;
    const expires = text('expires');
    if (expires === undefined) problems.push('no expiry date (expires: YYYY-MM-DD)');
    else if (!isCalendarDate(expires)) problems.push(`expires "${expires}" is not a date YYYY-MM-DD`);
    else ignore.expires = expires;
    const ignorePath = text('path');
    if (ignorePath !== undefined) ignore.path = ignorePath;
    const id = text('id');
    if (id !== undefined) ignore.id = id;
    if (problems.length > 0) ignore.invalid = problems.join(', ');
    ignores.push(ignore);
  }
  if (node.items.length > MAX_IGNORES) problems.push(`ignores: only the first ${MAX_IGNORES} entries are read`);
  return ignores;
}

function isCalendarDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  return date.toISOString().slice(0, 10) === text;
}

function rangeOf(node: YamlNode, lines: LineCounter): Range {
  const [start, , end] = node.range ?? [0, 0, 0];
  const from = lines.linePos(start);
  const to = lines.linePos(Math.max(start, end));
  return { start: { line: from.line - 1, character: from.col - 1 }, end: { line: to.line - 1, character: to.col - 1 } };
}

/** The ignore no longer applies: `expires` is a day before `now` (UTC). */
export function isExpired(ignore: PolicyIgnore, now: Date): boolean {
  return ignore.expires !== undefined && ignore.expires < now.toISOString().slice(0, 10);
}

/** A case-insensitive glob: `**` crosses folders, `*` and `?` do not. */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` also matches no folder at all.
      source += glob[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += glob[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 'i');
}

/** The ignore covers a finding of `code` in `relativePath` (POSIX, from the policy folder) on reference `id`. */
export function ignoreCovers(ignore: PolicyIgnore, code: DiagnosticCode, relativePath: string | undefined, id: string | undefined, now: Date): boolean {
  if (ignore.invalid !== undefined || ignore.code !== code || isExpired(ignore, now)) return false;
  if (ignore.path !== undefined && (relativePath === undefined || !globToRegExp(ignore.path).test(relativePath))) return false;
  if (ignore.id !== undefined && ignore.id.toLowerCase() !== id?.toLowerCase()) return false;
  return true;
}

/** True when a base repo id or an architecture family is allowed by the policy (no list = all allowed). */
export function isAllowedBase(policy: LineagePolicy | undefined, repoId: string, family?: string): boolean {
  const patterns = policy?.allowedBaseFamilies;
  if (patterns === undefined) return true;
  return patterns.some((pattern) => {
    const lower = pattern.toLowerCase();
    if (!lower.includes('/') && !lower.includes('*')) return lower === family?.toLowerCase() || lower === repoId.toLowerCase().split('/')[0];
    return globToRegExp(lower).test(repoId.toLowerCase());
  });
}

/** Why the policy forbids an organisation (blocked, or outside the allow-list), or undefined when it is allowed. */
export function organisationViolation(policy: LineagePolicy | undefined, organisation: string): 'blocked' | 'not-allowed' | undefined {
  if (!policy) return undefined;
  const matches = (patterns: string[]): boolean => patterns.some((p) => globToRegExp(p).test(organisation));
  if (policy.blockedOrganisations && matches(policy.blockedOrganisations)) return 'blocked';
  if (policy.allowedOrganisations && !matches(policy.allowedOrganisations)) return 'not-allowed';
  return undefined;
}

/** Loads the policy of a workspace folder, re-reading only when the file changed. */
export class PolicyStore {
  private readonly cached = new Map<string, { mtimeMs: number; size: number; policy: LineagePolicy | undefined }>();

  async policyFor(workspaceFolder: string | undefined): Promise<LineagePolicy | undefined> {
    if (workspaceFolder === undefined) return undefined;
    const file = path.join(workspaceFolder, POLICY_FILE_NAME);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      this.cached.delete(file);
      return undefined;
    }
    const hit = this.cached.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit.policy;
    const policy = info.size > MAX_POLICY_BYTES
      ? { ...emptyPolicy(file), problems: [`${file}: larger than ${MAX_POLICY_BYTES} bytes; ignored`] }
      : parsePolicy(await readFile(file, 'utf8'), file);
    this.cached.set(file, { mtimeMs: info.mtimeMs, size: info.size, policy });
    return policy;
  }
}
