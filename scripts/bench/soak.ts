// Soak benchmark of the language server (dist/server.js over stdio, the fixture HF cache of zoo models):
// opens many generated Python and YAML documents, then edits them for a while (one "active" document in
// typing bursts, the rest spread over the others) with hovers, lenses and code actions throughout, and
// prints p50/p99 of diagnostics-after-edit of the active document, hover, lens and code action, and the
// server's peak RSS (its worker threads included: one process). Targets are printed, never asserted.
// Like VS Code, the client reports what it shows (lineage/visibleDocuments): the active document and a
// second editor that moves to another document every few seconds; hovers and lenses go to those two,
// hovers on a newly shown document only after VS Code's hover delay. --no-visible leaves the
// notification out (clients without it: the most recently edited document goes first).
//
//   npm run bench:soak                                   1,000 documents, 60 s, 2,500 edits
//   npm run bench:soak -- --documents 100 --seconds 10   a short run (edits scale with the seconds)
//   options: --edits N (default 2,500 per 60 s), --seed S, --no-visible, --verbose (each active-edit sample)
// The server runs with the flags the VS Code client gives it (protocol/serverLaunch.ts).
// Exits 1 when the server crashes or an edit of the active document never gets its diagnostics.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { SERVER_NODE_FLAGS, VisibleDocumentsNotification, type VisibleDocumentsParams } from '../../server/src/protocol';
import * as path from 'node:path';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import { createPrng, type Prng } from '../../server/src/core/util/prng';
import { buildFixtureWorkspace, COMMITS, serverEnv, UNKNOWN_PINNED } from '../../test/lsp/fixtureWorkspace';
import { fileUri, LspTestClient } from '../../test/lsp/lspClient';
import { percentile } from './percentile';

const TARGET_ACTIVE_DIAGNOSTICS_P99_MS = 1_000;
const TARGET_HOVER_P99_MS = 200;
const TARGET_RSS_MB = 300;
const EDITS_PER_MINUTE = 2_500;
/** Share of the edits that go to the active document, typed in bursts of 1 to 4 keystrokes. */
const ACTIVE_EDIT_SHARE = 0.1;
const KEYSTROKE_MS = 40;
const HOVER_INTERVAL_MS = 40;
const LENS_INTERVAL_MS = 200;
const CODE_ACTION_INTERVAL_MS = 200;
const RSS_POLL_MS = 250;
/** Hovers are also reported without the first seconds of the soak (one-time start-up work). */
const STARTUP_MS = 5_000;
/** The second editor shows another document this often. */
const SWITCH_EDITOR_MS = 3_000;
/** VS Code's editor.hover.delay: no hover comes sooner after the mouse reaches a word. */
const HOVER_DELAY_MS = 300;
/** An edit of the active document whose diagnostics take longer than this counts as never answered. */
const ANSWER_TIMEOUT_MS = 15_000;

interface Options {
  documents: number;
  seconds: number;
  edits: number;
  seed: string;
  /** Print each active-edit sample as it comes. */
  verbose: boolean;
  /** Send lineage/visibleDocuments as VS Code does. */
  reportVisible: boolean;
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const at = argv.indexOf(`--${name}`);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const positive = (name: string, fallback: number): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} wants a positive number, got ${raw}`);
    return n;
  };
  const documents = Math.round(positive('documents', 1_000));
  const seconds = positive('seconds', 60);
  return { documents, seconds, edits: Math.round(positive('edits', (EDITS_PER_MINUTE * seconds) / 60)), seed: value('seed') ?? 'soak', verbose: argv.includes('--verbose'), reportVisible: !argv.includes('--no-visible') };
}

/** Ids in the fixture cache (fingerprinted models) with the revision written next to them. */
const CACHED_MODELS: Array<[string, string]> = [
  ['sshleifer/tiny-gpt2', COMMITS.base],
  ['acme/tiny-gpt2-medical', 'main'],
  ['acme/stories-gguf', 'main'],
  ['acme/pickle-gpt2', COMMITS.pickle],
  ['acme/tampered-gpt2', COMMITS.tampered],
];

interface SoakDocument {
  uri: string;
  file: string;
  kind: 'python' | 'yaml';
  index: number;
  version: number;
  /** Changes with every edit; written into a comment line. */
  revision: number;
  models: Array<[string, string]>;
  /** Where a hover lands on the first reference. */
  hoverAt: { line: number; character: number };
}

function modelFor(random: Prng, documentIndex: number): [string, string] {
  // Two in five references name a cached model; the rest are ids on no disk (resolved, then looked up in the registries).
  if (random.nextInt(5) < 2) return CACHED_MODELS[random.nextInt(CACHED_MODELS.length)]!;
  return [`soak-org-${random.nextInt(40)}/model-${documentIndex % 97}-${random.nextInt(5)}`, random.nextInt(2) === 0 ? UNKNOWN_PINNED : 'main'];
}

function render(doc: SoakDocument): string {
  const [a, b, c] = doc.models as [[string, string], [string, string], [string, string]];
  if (doc.kind === 'yaml') {
    const lines = [`base_model: ${a[0]}`, `# soak config ${doc.index}, edit ${doc.revision}`, `model_name_or_path: ${b[0]}`, 'trust_remote_code: false'];
    for (let k = 0; k < 20; k++) lines.push(`option_${k}: ${(doc.index * 31 + k) % 1000}`);
    return lines.join('\n') + '\n';
  }
  const lines = [
    'import os',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    `model = AutoModelForCausalLM.from_pretrained("${a[0]}", revision="${a[1]}")`,
    `tokenizer = AutoTokenizer.from_pretrained("${b[0]}", revision="${b[1]}")`,
    `extra = AutoModelForCausalLM.from_pretrained("${c[0]}")`,
    `# soak document ${doc.index}, edit ${doc.revision}`,
  ];
  for (let k = 0; k < 30; k++) lines.push(`value_${k} = os.environ.get("VALUE_${k}", "${k}") + str(${k} * ${doc.revision + 3})`);
  return lines.join('\n') + '\n';
}

/** Changes the comment line, and one time in five the first model: reference positions stay put. */
function edit(doc: SoakDocument, random: Prng): string {
  doc.revision++;
  doc.version++;
  if (random.nextInt(5) === 0) doc.models[0] = modelFor(random, doc.index);
  return render(doc);
}

interface Sampler {
  name: string;
  samplesMs: number[];
  /** When each request was sent (Date.now()), parallel to samplesMs. */
  sentAtMs: number[];
  failures: number;
}

function sampler(name: string): Sampler {
  return { name, samplesMs: [], sentAtMs: [], failures: 0 };
}

/** Requests slower than this are printed under --verbose. */
const SLOW_REQUEST_MS = 200;

function timed<T>(into: Sampler, request: () => Promise<T>, describe?: () => string): Promise<void> {
  const start = process.hrtime.bigint();
  const sentAtMs = Date.now();
  return request().then(
    () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      into.samplesMs.push(ms);
      into.sentAtMs.push(sentAtMs);
      if (describe && ms > SLOW_REQUEST_MS) console.log(`  slow ${into.name}: ${ms.toFixed(0)} ms (${describe()})`);
    },
    () => void into.failures++,
  );
}

/** Resident set now and at its peak (VmHWM), in MB, of `pid` (Linux /proc; undefined elsewhere). */
async function rssOf(pid: number): Promise<{ nowMb: number; peakMb: number } | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const field = (name: string): number | undefined => {
    const match = status?.match(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm'));
    return match ? Number(match[1]) / 1024 : undefined;
  };
  const nowMb = field('VmRSS');
  const peakMb = field('VmHWM');
  return nowMb === undefined || peakMb === undefined ? undefined : { nowMb, peakMb };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The samples of requests sent from `fromMs` on. */
function sentFrom(s: Sampler, fromMs: number, name: string): Sampler {
  const kept = s.samplesMs.map((ms, i) => ({ ms, at: s.sentAtMs[i]! })).filter((x) => x.at >= fromMs);
  return { name, samplesMs: kept.map((x) => x.ms), sentAtMs: kept.map((x) => x.at), failures: 0 };
}

function line(s: Sampler, unit = 'ms', target?: { p99: number }): string {
  const p50 = percentile(s.samplesMs, 0.5);
  const p99 = percentile(s.samplesMs, 0.99);
  const max = s.samplesMs.length > 0 ? Math.max(...s.samplesMs) : Number.NaN;
  const verdict = target === undefined ? '' : `  [target p99 <= ${target.p99} ${unit}: ${p99 <= target.p99 ? 'ok' : 'OVER TARGET'}]`;
  const failed = s.failures > 0 ? `, ${s.failures} failed` : '';
  return `${s.name.padEnd(34)} n=${String(s.samplesMs.length).padStart(5)}  p50 ${p50.toFixed(1).padStart(7)} ${unit}  p99 ${p99.toFixed(1).padStart(7)} ${unit}  max ${max.toFixed(1).padStart(7)} ${unit}${failed}${verdict}`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const random = createPrng(options.seed);
  const fixture = await buildFixtureWorkspace();
  const folder = path.join(fixture.workspace, 'soak');
  await mkdir(folder, { recursive: true });
  const docs: SoakDocument[] = [];
  for (let i = 0; i < options.documents; i++) {
    // The active document (index 0) is Python; about one in three of the others is a YAML config.
    const kind = i > 0 && i % 3 === 0 ? 'yaml' : 'python';
    const file = path.join(folder, kind === 'yaml' ? `config_${i}.yaml` : `train_${i}.py`);
    const doc: SoakDocument = {
      uri: fileUri(file),
      file,
      kind,
      index: i,
      version: 1,
      revision: 0,
      models: [modelFor(random, i), modelFor(random, i), modelFor(random, i)],
      hoverAt: kind === 'yaml' ? { line: 0, character: 15 } : { line: 2, character: 50 },
    };
    await writeFile(file, render(doc));
    docs.push(doc);
  }
  const active = docs[0]!;
  // The active document's first model is cached, so hovers and lenses on it carry a lineage verdict.
  active.models[0] = CACHED_MODELS[0]!;

  const client = await LspTestClient.start({ workspaceFolder: fixture.workspace, env: serverEnv(fixture) });
  const pid = client.process.pid!;
  let crashed: string | undefined;
  let stopping = false;
  client.process.once('exit', (code, signal) => {
    if (!stopping) crashed = `server exited (code ${code}, signal ${signal})`;
  });

  let openedAt = Date.now();
  const activeDiagnostics = sampler('diagnostics after an active edit');
  const hovers = sampler('hover');
  const lenses = sampler('code lens');
  const codeActions = sampler('code action');
  const firstDiagnosticsAt = new Map<string, number>();
  let unanswered = 0;
  let waitingEdit: { version: number; sentAt: number } | undefined;
  let activeDiagnosticsList: Diagnostic[] = [];
  client.publishListeners.push((params: PublishDiagnosticsParams) => {
    if (!firstDiagnosticsAt.has(params.uri)) firstDiagnosticsAt.set(params.uri, Date.now());
    if (params.uri !== active.uri) return;
    activeDiagnosticsList = params.diagnostics;
    if (waitingEdit && params.version !== undefined && params.version !== null && params.version >= waitingEdit.version) {
      activeDiagnostics.samplesMs.push(Date.now() - waitingEdit.sentAt);
      if (options.verbose) console.log(`  +${((Date.now() - openedAt) / 1000).toFixed(1)} s  active v${waitingEdit.version} diagnostics after ${Date.now() - waitingEdit.sentAt} ms`);
      waitingEdit = undefined;
    }
  });

  let peakRssMb = 0;
  let lastRssMb = 0;
  const rssTimer = setInterval(() => {
    void rssOf(pid).then((rss) => {
      if (!rss) return;
      lastRssMb = rss.nowMb;
      peakRssMb = Math.max(peakRssMb, rss.peakMb);
    });
  }, RSS_POLL_MS);

  try {
    const showDocuments = async (shown: SoakDocument): Promise<void> => {
      const params: VisibleDocumentsParams = { uris: [active.uri, shown.uri], activeUri: active.uri };
      if (options.reportVisible) await client.connection.sendNotification(VisibleDocumentsNotification.method, params);
    };
    openedAt = Date.now();
    await showDocuments(active);
    for (const doc of docs) await client.open(doc.uri, doc.kind, render(doc), doc.version);
    const openMs = Date.now() - openedAt;
    // The user starts once the active document shows its diagnostics and the editor answers again (a
    // hover answered means the server has read every didOpen); the backlog is still being analysed.
    await client.waitFor('diagnostics of the active document', () => (firstDiagnosticsAt.has(active.uri) ? true : undefined), 120_000);
    const firstActiveDiagnosticsMs = Date.now() - openedAt;
    await client.hover(active.uri, active.hoverAt.line, active.hoverAt.character);
    const caughtUpMs = Date.now() - openedAt;
    const soakStart = Date.now();
    const soakEnd = soakStart + options.seconds * 1000;
    const requests: Array<Promise<void>> = [];

    const activeEdits = Math.max(1, Math.round(options.edits * ACTIVE_EDIT_SHARE));
    const backgroundEdits = Math.max(0, options.edits - activeEdits);
    const bursts: number[] = [];
    for (let left = activeEdits; left > 0; ) {
      const size = Math.min(left, 1 + random.nextInt(4));
      bursts.push(size);
      left -= size;
    }

    // The user types in the active document: a burst of keystrokes, then a pause.
    const typing = (async () => {
      const burstSpacingMs = (options.seconds * 1000) / bursts.length;
      for (let b = 0; b < bursts.length && !crashed; b++) {
        const burstAt = soakStart + b * burstSpacingMs;
        await sleep(Math.max(0, burstAt - Date.now()));
        if (waitingEdit && Date.now() - waitingEdit.sentAt > ANSWER_TIMEOUT_MS) {
          unanswered++;
          waitingEdit = undefined;
        }
        for (let k = 0; k < bursts[b]!; k++) {
          const text = edit(active, random);
          await client.replace(active.uri, active.version, text);
          // Measured from the last keystroke of a burst, the moment the user pauses; a pause whose
          // diagnostics have not come when the next burst ends keeps counting (the longer wait is the one seen).
          if (k === bursts[b]! - 1) waitingEdit ??= { version: active.version, sentAt: Date.now() };
          else await sleep(KEYSTROKE_MS);
        }
      }
    })();

    // Edits spread over the other documents.
    const others = (async () => {
      const spacingMs = (options.seconds * 1000) / Math.max(1, backgroundEdits);
      for (let e = 0; e < backgroundEdits && !crashed && docs.length > 1; e++) {
        await sleep(Math.max(0, soakStart + e * spacingMs - Date.now()));
        const doc = docs[1 + random.nextInt(docs.length - 1)]!;
        const text = edit(doc, random);
        await client.replace(doc.uri, doc.version, text);
      }
    })();

    const every = async (intervalMs: number, act: (tick: number) => void): Promise<void> => {
      for (let tick = 0; Date.now() < soakEnd && !crashed; tick++) {
        act(tick);
        await sleep(intervalMs);
      }
    };
    // The second editor: another document every SWITCH_EDITOR_MS, hovered once the hover delay passed.
    let shown = docs[Math.min(1, docs.length - 1)]!;
    let shownAt = Date.now();
    const showing = (async () => {
      while (Date.now() < soakEnd && !crashed) {
        shown = docs[random.nextInt(docs.length)]!;
        shownAt = Date.now();
        await showDocuments(shown);
        await sleep(SWITCH_EDITOR_MS);
      }
    })();
    const someDocument = (tick: number, delayMs: number): SoakDocument => (tick % 2 === 0 || Date.now() - shownAt < delayMs ? active : shown);
    const asking = Promise.all([
      every(HOVER_INTERVAL_MS, (tick) => {
        const doc = someDocument(tick, HOVER_DELAY_MS);
        const sentAt = Date.now();
        const describe = (): string => `+${((sentAt - openedAt) / 1000).toFixed(1)} s, ${doc === active ? 'active' : 'shown'} document v${doc.version}`;
        requests.push(timed(hovers, () => client.hover(doc.uri, doc.hoverAt.line, doc.hoverAt.character), options.verbose ? describe : undefined));
      }),
      every(LENS_INTERVAL_MS, (tick) => {
        const doc = someDocument(tick, 0);
        requests.push(timed(lenses, () => client.codeLenses(doc.uri)));
      }),
      every(CODE_ACTION_INTERVAL_MS, () => {
        const range = { start: { line: active.hoverAt.line, character: 0 }, end: { line: active.hoverAt.line, character: 200 } };
        const onLine = activeDiagnosticsList.filter((d) => d.range.start.line === active.hoverAt.line);
        requests.push(timed(codeActions, () => client.codeActions(active.uri, range, onLine)));
      }),
    ]);

    await Promise.all([typing, others, asking, showing]);
    // The last burst's diagnostics and the requests still in flight.
    const lastDeadline = Date.now() + ANSWER_TIMEOUT_MS;
    while (waitingEdit && !crashed && Date.now() < lastDeadline) await sleep(20);
    if (waitingEdit) unanswered++;
    await Promise.race([Promise.all(requests), sleep(ANSWER_TIMEOUT_MS)]);
    const rss = await rssOf(pid);
    if (rss) peakRssMb = Math.max(peakRssMb, rss.peakMb);
    const soakMs = Date.now() - soakStart;

    const withDiagnostics = docs.filter((d) => firstDiagnosticsAt.has(d.uri)).length;
    const allDiagnosedAt = withDiagnostics === docs.length ? Math.max(...docs.map((d) => firstDiagnosticsAt.get(d.uri)!)) - openedAt : undefined;
    console.log(`soak: ${docs.length} documents opened in ${openMs} ms (the active one diagnosed after ${firstActiveDiagnosticsMs} ms, the server caught up after ${caughtUpMs} ms), then ${(soakMs / 1000).toFixed(1)} s with ${activeEdits + backgroundEdits} edits (${activeEdits} to the active document in ${bursts.length} bursts), ${hovers.samplesMs.length + lenses.samplesMs.length + codeActions.samplesMs.length} feature requests; seed ${options.seed}${options.reportVisible ? '' : ', no lineage/visibleDocuments'}`);
    console.log(allDiagnosedAt === undefined ? `backlog: ${withDiagnostics}/${docs.length} documents had diagnostics by the end` : `backlog: every document had diagnostics ${(allDiagnosedAt / 1000).toFixed(1)} s after the first was opened`);
    console.log(line(activeDiagnostics, 'ms', { p99: TARGET_ACTIVE_DIAGNOSTICS_P99_MS }) + (unanswered > 0 ? `  ${unanswered} never answered` : ''));
    console.log(line(hovers, 'ms', { p99: TARGET_HOVER_P99_MS }));
    // The first seconds carry one-time work: the cached models' first fingerprints and comparisons, cold code paths.
    console.log(line(sentFrom(hovers, soakStart + STARTUP_MS, `hover, from ${STARTUP_MS / 1000} s on`), 'ms', { p99: TARGET_HOVER_P99_MS }));
    console.log(line(lenses));
    console.log(line(codeActions));
    console.log(`peak RSS of the server process (worker threads included): ${peakRssMb.toFixed(0)} MB, at the end ${lastRssMb.toFixed(0)} MB  [target <= ${TARGET_RSS_MB} MB: ${peakRssMb <= TARGET_RSS_MB ? 'ok' : 'OVER TARGET'}]`);
    console.log(`(the server ran with the VS Code client's flags: ${SERVER_NODE_FLAGS.join(' ')})`);
    console.log(crashed ? `CRASH: ${crashed}\n${client.stderr.join('').slice(-4000)}` : 'no crash');
    if (crashed || unanswered > 0) process.exitCode = 1;
  } finally {
    clearInterval(rssTimer);
    stopping = true;
    await client.stop();
    await rm(fixture.root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
