// Mocha runner loaded by VS Code's extension host through extensionTestsPath (the code-server payload
// route): runs the bundled *.itest.js next to it and writes the outcome to LINEAGE_ITEST_RESULT.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Mocha from 'mocha';

export interface IntegrationResult {
  passes: number;
  failures: number;
  tests: Array<{ title: string; state: 'passed' | 'failed'; error?: string; durationMs?: number }>;
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'bdd', timeout: 120_000, color: false });
  mocha.addFile(path.join(__dirname, 'extension.itest.js'));
  const result: IntegrationResult = { passes: 0, failures: 0, tests: [] };
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      result.failures = failures;
      const target = process.env['LINEAGE_ITEST_RESULT'];
      if (target) writeFileSync(target, JSON.stringify(result, null, 2));
      if (failures > 0) reject(new Error(`${failures} integration test(s) failed`));
      else resolve();
    });
    runner.on('pass', (test) => {
      result.passes++;
      result.tests.push({ title: test.fullTitle(), state: 'passed', ...(test.duration !== undefined ? { durationMs: test.duration } : {}) });
    });
    runner.on('fail', (test, err: Error) => result.tests.push({ title: test.fullTitle(), state: 'failed', error: err.stack ?? err.message }));
  });
}
