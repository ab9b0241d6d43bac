// Environment variable names that carry a model id or its revision (TGI, SageMaker DLC, vLLM images),
// shared by the YAML (compose / Kubernetes) and shell (Dockerfile ENV, export, .env) finders.

const MODEL_ID_VARIABLES = new Set(['MODEL_ID', 'HF_MODEL_ID', 'MODEL_NAME', 'MODEL_NAME_OR_PATH', 'BASE_MODEL', 'MODEL_REPO']);
const REVISION_VARIABLES = new Set(['REVISION', 'MODEL_REVISION', 'HF_MODEL_REVISION']);
const TRUST_REMOTE_CODE_VARIABLES = new Set(['TRUST_REMOTE_CODE', 'HF_MODEL_TRUST_REMOTE_CODE']);

export function isModelIdVariable(name: string): boolean {
  return MODEL_ID_VARIABLES.has(name.toUpperCase());
}

export function isRevisionVariable(name: string): boolean {
  return REVISION_VARIABLES.has(name.toUpperCase());
}

export function isTrustRemoteCodeVariable(name: string): boolean {
  return TRUST_REMOTE_CODE_VARIABLES.has(name.toUpperCase());
}

export function isTruthyValue(value: string): boolean {
  return /^(?:1|true|yes|on)$/i.test(value.trim());
}

export function envLoader(name: string): string {
  return `env ${name}`;
}
