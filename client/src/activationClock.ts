// The moment the extension bundle started evaluating; imported first by extension.ts so that the
// activation time reported (bundle evaluation + activate()) is what a user waits for.
import { performance } from 'node:perf_hooks';

export const bundleStartedAtMs = performance.now();
