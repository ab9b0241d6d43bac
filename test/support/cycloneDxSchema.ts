// The official CycloneDX 1.6 JSON schema (shipped by @cyclonedx/cyclonedx-library) compiled with ajv:
// tests validate every BOM the CLI and the editor write against it.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

const SCHEMA_DIR = path.join(path.dirname(require.resolve('@cyclonedx/cyclonedx-library/package.json')), 'res', 'schema');

function load(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path.join(SCHEMA_DIR, name), 'utf8')) as Record<string, unknown>;
}

let compiled: ValidateFunction | undefined;

export function cycloneDx16Validator(): ValidateFunction {
  if (compiled) return compiled;
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // Internationalised forms ajv-formats does not define; the BOMs written here use none of them.
  for (const format of ['iri-reference', 'iri', 'idn-email']) ajv.addFormat(format, true);
  // The BOM schema names its companions by their SNAPSHOT file names; register them under those.
  for (const name of ['spdx.SNAPSHOT.schema.json', 'jsf-0.82.SNAPSHOT.schema.json', 'cryptography-defs.SNAPSHOT.schema.json']) {
    ajv.addSchema({ ...load(name), $id: `http://cyclonedx.org/schema/${name}` });
  }
  compiled = ajv.compile(load('bom-1.6.SNAPSHOT.schema.json'));
  return compiled;
}
