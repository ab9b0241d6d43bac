// Hub metadata for references that are not on this machine: the HubLookups policy (offline switches,
// endpoint, token, cache, deduplication, cancellation) against a loopback mock Hub, then the built
// server (dist/server.js over stdio) publishing LL009/LL005/LL003, hovers and pin fixes from it.
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodeAction, Diagnostic } from 'vscode-languageserver-protocol/node';
import { HubLookups, MAX_CONCURRENT_LOOKUPS, readAccessToken, tokenFilePath, type HubLookupsOptions } from '../../server/src/analysis/oracles/hubLookups';
import { attachPriority, JobPriority } from '../../server/src/core/util/jobPriority';
import { HubTokenNotification, type HubFacts, type HubRepoFacts, type LineageSettings } from '../../server/src/protocol';
import { DEFAULT_SETTINGS } from '../../server/src/lsp/settings';
import { startMockHub, type MockHub, type MockRepo } from '../support/mockHub';
import { buildFixtureWorkspace, serverEnv, type FixtureWorkspace } from './fixtureWorkspace';
import { fileUri, LspTestClient, SERVER_PATH } from './lspClient';

const SAFE_COMMIT = 'a1'.repeat(20);
/** transformers pins its sentiment-analysis default by the short hash 714eb0f. */
const SST2_COMMIT = '714eb0fa89d2f80546fda750413ed43d93601a13';
const PICKLE_COMMIT = 'b2'.repeat(20);

const REPOS: MockRepo[] = [
  {
    id: 'acme/hub-safe',
    refs: { main: SAFE_COMMIT },
    info: { cardData: { license: 'apache-2.0', base_model: 'sshleifer/tiny-gpt2' } },
    trees: {
      [SAFE_COMMIT]: [
        { type: 'file', path: 'config.json', size: 10 },
        { type: 'file', path: 'model.safetensors', size: 20 },
        { type: 'file', path: 'tokenizer.json', size: 30 },
      ],
    },
  },
  {
    id: 'distilbert/distilbert-base-uncased-finetuned-sst-2-english',
    refs: { main: 'c'.repeat(40) },
    trees: { [SST2_COMMIT]: [{ type: 'file', path: 'config.json', size: 10 }, { type: 'file', path: 'model.safetensors', size: 20 }], ['c'.repeat(40)]: [{ type: 'file', path: 'model.safetensors', size: 20 }] },
  },
  {
    id: 'acme/hub-pickle',
    refs: { main: PICKLE_COMMIT },
    trees: { [PICKLE_COMMIT]: [{ type: 'file', path: 'config.json', size: 10 }, { type: 'file', path: 'pytorch_model.bin', size: 20 }] },
  },
];

/** Polls a condition between event-loop turns (bounded by the test's timeout, never by a clock). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

function repoFacts(facts: HubFacts | undefined): HubRepoFacts {
  if (facts === undefined || 'problem' in facts) assert.fail(`expected Hub facts, got ${JSON.stringify(facts)}`);
  return facts;
}

/** Requests for one repo's model info (one per network lookup). */
function infoRequests(hub: MockHub, repoId: string): number {
  return hub.requests.filter((r) => r.path.toLowerCase().startsWith(`/api/models/${repoId.toLowerCase()}/revision/`)).length;
}

describe('Hub lookups (HubLookups against a mock Hub)', function () {
  this.timeout(30_000);
  let hub: MockHub;
  let home: string;
  let settings: Pick<LineageSettings, 'offline' | 'hub'>;
  const lookups = (options: Partial<HubLookupsOptions> = {}): HubLookups =>
    new HubLookups({ settings: () => settings, env: { HF_ENDPOINT: hub.url }, homeDirectory: home, ...options });

  before(async () => {
    hub = await startMockHub(REPOS);
    home = await mkdtemp(path.join(os.tmpdir(), 'lineage-hub-home-'));
  });
  beforeEach(() => {
    hub.requests.length = 0;
    hub.hold = undefined;
    settings = { offline: false, hub: { ...DEFAULT_SETTINGS.hub } };
  });
  after(async () => {
    await hub.close();
    await rm(home, { recursive: true, force: true });
  });

  it('asks nothing when the offline setting or HF_HUB_OFFLINE says so', async () => {
    settings.offline = true;
    assert.equal(await lookups().lookUp('acme/hub-safe', undefined), undefined);
    settings.offline = false;
    for (const value of ['1', 'TRUE', 'yes', ' on ']) {
      const offline = lookups({ env: { HF_ENDPOINT: hub.url, HF_HUB_OFFLINE: value } });
      assert.equal(offline.allowed(), false, value);
      assert.equal(await offline.lookUp('acme/hub-safe', undefined), undefined);
    }
    for (const value of ['', '0', 'false']) assert.equal(lookups({ env: { HF_HUB_OFFLINE: value } }).allowed(), true, value);
    assert.equal(hub.requests.length, 0);
  });

  it('uses HF_ENDPOINT only while the endpoint setting is the default, and reports an unusable endpoint', async () => {
    assert.deepEqual(lookups().endpoint(), { ok: true, url: hub.url });
    settings.hub.endpoint = 'https://hub.example.com/';
    assert.deepEqual(lookups().endpoint(), { ok: true, url: 'https://hub.example.com' });
    settings.hub.endpoint = 'https://user:hf_secret@hub.example.com';
    const facts = await lookups().lookUp('acme/hub-safe', undefined);
    assert.ok(facts && 'problem' in facts && facts.problem === 'invalid-endpoint', JSON.stringify(facts));
    assert.ok(!facts.detail.includes('hf_secret'));
    assert.equal(hub.requests.length, 0);
  });

  it('reads the token from HF_TOKEN, HUGGING_FACE_HUB_TOKEN, then the token file, and sends it', async () => {
    assert.equal(await readAccessToken({ HF_TOKEN: ' hf_a ', HUGGING_FACE_HUB_TOKEN: 'hf_b' }, home), 'hf_a');
    assert.equal(await readAccessToken({ HF_TOKEN: '', HUGGING_FACE_HUB_TOKEN: 'hf_b' }, home), 'hf_b');
    assert.equal(tokenFilePath({}, home), path.join(home, '.cache', 'huggingface', 'token'));
    assert.equal(tokenFilePath({ XDG_CACHE_HOME: '/xdg' }, home), path.join('/xdg', 'huggingface', 'token'));
    assert.equal(tokenFilePath({ HF_HOME: '~/hf', XDG_CACHE_HOME: '/xdg' }, home), path.join(home, 'hf', 'token'));
    assert.equal(tokenFilePath({ HF_TOKEN_PATH: '/t/token', HF_HOME: '/hf' }, home), '/t/token');
    assert.equal(await readAccessToken({}, home), undefined, 'no file, no token');
    await mkdir(path.join(home, '.cache', 'huggingface'), { recursive: true });
    await writeFile(path.join(home, '.cache', 'huggingface', 'token'), `  hf_from_file  \nsecond line\n${'x'.repeat(10_000)}`);
    assert.equal(await readAccessToken({}, home), 'hf_from_file');
    assert.equal(await readAccessToken({ HF_TOKEN_PATH: home }, home), undefined, 'a folder is not a token file');

    repoFacts(await lookups().lookUp('acme/hub-safe', undefined));
    assert.ok(hub.requests.length >= 1 && hub.requests.every((r) => r.authorization === 'Bearer hf_from_file'));
    await rm(path.join(home, '.cache'), { recursive: true, force: true });
  });

  it('summarises the answer, and caches answers per endpoint, id (any case) and revision until they expire', async () => {
    let now = 1_000_000;
    const cache = lookups({ now: () => now });
    const [first, second] = await Promise.all([cache.lookUp('acme/hub-safe', undefined), cache.lookUp('ACME/Hub-Safe', undefined)]);
    assert.deepEqual(repoFacts(first), {
      endpoint: hub.url, repoId: 'acme/hub-safe', commit: SAFE_COMMIT, revisionAsked: 'main', fileCount: 3,
      weightFiles: ['model.safetensors'], formats: ['safetensors'], licence: 'apache-2.0', baseModels: ['sshleifer/tiny-gpt2'],
    });
    assert.deepEqual(second, first);
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 1, 'concurrent lookups share one');
    repoFacts(await cache.lookUp('acme/hub-safe', 'main'));
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 1, 'no revision means main');

    const missing = await cache.lookUp('acme/nowhere', undefined);
    assert.ok(missing && 'problem' in missing && missing.problem === 'not-found', JSON.stringify(missing));
    now += 59_000;
    await cache.lookUp('acme/nowhere', undefined);
    assert.equal(infoRequests(hub, 'acme/nowhere'), 1, 'a failure is kept for a minute');
    now += 2_000;
    await cache.lookUp('acme/nowhere', undefined);
    assert.equal(infoRequests(hub, 'acme/nowhere'), 2);
    await cache.lookUp('acme/hub-safe', undefined);
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 1, 'an answer is kept for ten minutes');
    now += 10 * 60_000;
    await cache.lookUp('acme/hub-safe', undefined);
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 2);
  });

  it('keeps a bounded number of answers, forgetting the oldest', async () => {
    const cache = lookups({ maxEntries: 2 });
    for (const id of ['acme/hub-safe', 'acme/hub-pickle', 'acme/other']) await cache.lookUp(id, undefined);
    await cache.lookUp('acme/hub-pickle', undefined);
    assert.equal(infoRequests(hub, 'acme/hub-pickle'), 1);
    await cache.lookUp('acme/hub-safe', undefined);
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 2);
  });

  it('cancels a shared lookup only when every caller has gone, and then starts afresh', async () => {
    const cache = lookups();
    let release!: () => void;
    hub.hold = new Promise((resolve) => (release = resolve));
    const leaving = new AbortController();
    const staying = new AbortController();
    const left = cache.lookUp('acme/hub-safe', undefined, leaving.signal);
    const stayed = cache.lookUp('acme/hub-safe', undefined, staying.signal);
    leaving.abort();
    await assert.rejects(left, { name: 'AbortError' });
    release();
    assert.equal(repoFacts(await stayed).commit, SAFE_COMMIT);
    assert.equal(infoRequests(hub, 'acme/hub-safe'), 1);

    hub.hold = new Promise((resolve) => (release = resolve));
    const both = new AbortController();
    const abandoned = [cache.lookUp('acme/hub-pickle', undefined, both.signal), cache.lookUp('acme/hub-pickle', undefined, both.signal)];
    await until(() => infoRequests(hub, 'acme/hub-pickle') === 1);
    both.abort();
    for (const lookup of abandoned) await assert.rejects(lookup, { name: 'AbortError' });
    release();
    repoFacts(await cache.lookUp('acme/hub-pickle', undefined));
    assert.equal(infoRequests(hub, 'acme/hub-pickle'), 2, 'the abandoned lookup is not reused');

    const cancelled = new AbortController();
    cancelled.abort();
    await assert.rejects(cache.lookUp('acme/other', undefined, cancelled.signal), { name: 'AbortError' });
    assert.equal(infoRequests(hub, 'acme/other'), 0);
  });

  it('gives a free slot to the most urgent lookup waiting, and never asks for one whose callers left', async () => {
    const cache = lookups();
    const withPriority = (priority: number): AbortSignal => {
      const controller = new AbortController();
      attachPriority(controller.signal, () => priority);
      return controller.signal;
    };
    let release!: () => void;
    hub.hold = new Promise((resolve) => (release = resolve));
    const busy = Array.from({ length: MAX_CONCURRENT_LOOKUPS }, (_, i) => cache.lookUp(`acme/busy-${i}`, undefined, withPriority(JobPriority.background)));
    await until(() => hub.requests.length === MAX_CONCURRENT_LOOKUPS);
    // Waiting for a slot: a backlog of background lookups, one of them abandoned, then the edited document's.
    const abandoning = new AbortController();
    attachPriority(abandoning.signal, () => JobPriority.background);
    const abandoned = cache.lookUp('acme/abandoned', undefined, abandoning.signal);
    const backlog = Array.from({ length: MAX_CONCURRENT_LOOKUPS }, (_, i) => cache.lookUp(`acme/backlog-${i}`, undefined, withPriority(JobPriority.background)));
    const urgent = cache.lookUp('acme/hub-safe', undefined, withPriority(JobPriority.interactive));
    abandoning.abort();
    await assert.rejects(abandoned, { name: 'AbortError' });

    // The busy lookups end; the slots go to the urgent lookup first, then to the backlog in order.
    const releaseBusy = release;
    hub.hold = new Promise((resolve) => (release = resolve));
    releaseBusy();
    await Promise.all(busy);
    await until(() => infoRequests(hub, 'acme/hub-safe') === 1 && hub.requests.length === 2 * MAX_CONCURRENT_LOOKUPS);
    const asked = (repoId: string): boolean => infoRequests(hub, repoId) > 0;
    assert.ok(asked('acme/backlog-0') && asked('acme/backlog-2'));
    assert.equal(asked(`acme/backlog-${MAX_CONCURRENT_LOOKUPS - 1}`), false, 'the last of the backlog waits for the urgent lookup');
    release();
    await Promise.all([urgent, ...backlog]);
    assert.equal(infoRequests(hub, 'acme/abandoned'), 0, 'the abandoned lookup was never sent');
  });

  it('after a connection failure, fails fast for a while instead of asking again', async () => {
    let calls = 0;
    const refusing: typeof fetch = async () => {
      calls++;
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    };
    const cache = lookups({ fetch: refusing });
    const first = await cache.lookUp('acme/hub-safe', undefined);
    assert.ok(first && 'problem' in first && first.problem === 'offline', JSON.stringify(first));
    const second = await cache.lookUp('acme/hub-pickle', undefined);
    assert.ok(second && 'problem' in second && second.problem === 'offline' && /not asked/.test(second.detail), JSON.stringify(second));
    assert.equal(calls, 1);
  });
});

// ---------------------------------------------------------------------------------------------

/** Lines of the document the server tests open. */
const LINES = { safe: 1, pickle: 2, unknown: 3, sameAsSafe: 4, implicit: 5 } as const;
const DOCUMENT = [
  'from transformers import AutoModelForCausalLM',
  'safe = AutoModelForCausalLM.from_pretrained("acme/hub-safe")',
  'pick = AutoModelForCausalLM.from_pretrained("acme/hub-pickle")',
  'gone = AutoModelForCausalLM.from_pretrained("acme/not-on-hub")',
  'again = AutoModelForCausalLM.from_pretrained("ACME/Hub-Safe")',
  'from transformers import pipeline; clf = pipeline("sentiment-analysis")',
  '',
].join('\n');

function onLine(diagnostics: Diagnostic[], line: number, code: string): Diagnostic | undefined {
  return diagnostics.find((d) => d.range.start.line === line && d.code === code);
}

function messageOf(diagnostic: Diagnostic | undefined): string {
  if (!diagnostic) return '';
  return typeof diagnostic.message === 'string' ? diagnostic.message : diagnostic.message.value;
}

describe('language server with a Hub (dist/server.js, mock Hub)', function () {
  this.timeout(120_000);
  let fixture: FixtureWorkspace;
  let hub: MockHub;
  let client: LspTestClient | undefined;
  let uri: string;

  before(async () => {
    if (!existsSync(SERVER_PATH)) throw new Error(`${SERVER_PATH} is missing: run node scripts/build.mjs first`);
    fixture = await buildFixtureWorkspace();
    hub = await startMockHub(REPOS);
    uri = fileUri(path.join(fixture.workspace, 'hub_models.py'));
  });
  beforeEach(() => {
    hub.requests.length = 0;
  });
  afterEach(async () => {
    await client?.stop();
    client = undefined;
  });
  after(async () => {
    await hub.close();
    await rm(fixture.root, { recursive: true, force: true });
  });

  /** A server whose environment allows the Hub (serverEnv forbids it) and points HF_ENDPOINT at the mock. */
  const start = (settings: Record<string, unknown> = {}): Promise<LspTestClient> =>
    LspTestClient.start({
      workspaceFolder: fixture.workspace,
      env: serverEnv(fixture, { HF_HUB_OFFLINE: '', HF_ENDPOINT: hub.url, HF_TOKEN: 'hf_lineage_test', HUGGING_FACE_HUB_TOKEN: '' }),
      settings: { registry: { includeShipped: false }, ...settings },
    });

  it('publishes first, then LL009, LL005 and LL003 from the Hub, with hover and a pin to the Hub commit', async () => {
    let release!: () => void;
    hub.hold = new Promise((resolve) => (release = resolve));
    client = await start();
    const lsp = client;
    await lsp.open(uri, 'python', DOCUMENT);
    // The Hub answers nothing yet: the first diagnostics must not wait for it.
    const first = await lsp.waitFor('the first diagnostics', () => lsp.diagnostics.get(uri));
    assert.doesNotMatch(messageOf(onLine(first.diagnostics, LINES.safe, 'LL009')), /Hub/);
    release();
    hub.hold = undefined;

    const diagnostics = await lsp.waitFor('diagnostics with Hub facts', () => {
      const published = lsp.diagnosticsOf(uri);
      return /the Hub has it/.test(messageOf(onLine(published, LINES.safe, 'LL009'))) && onLine(published, LINES.pickle, 'LL005') ? published : undefined;
    });
    const short = SAFE_COMMIT.slice(0, 12);
    const safe = onLine(diagnostics, LINES.safe, 'LL009')!;
    assert.equal(messageOf(safe), `acme/hub-safe is not downloaded; the Hub has it at commit ${short} (3 files: safetensors).`);
    assert.equal(safe.severity, 4, 'not downloaded is a hint');
    assert.equal(messageOf(onLine(diagnostics, LINES.sameAsSafe, 'LL009')), `ACME/Hub-Safe is not downloaded; the Hub has it at commit ${short} (3 files: safetensors).`);

    const pickle = onLine(diagnostics, LINES.pickle, 'LL005')!;
    assert.match(messageOf(pickle), /^acme\/hub-pickle ships pickle weights only on the Hub \(pytorch_model\.bin\)/);
    assert.equal(pickle.severity, 2);

    const unknown = onLine(diagnostics, LINES.unknown, 'LL009')!;
    assert.equal(messageOf(unknown), 'acme/not-on-hub cannot be downloaded as written: the Hub does not know this id (a typo, or a deleted or private repository). Check the id.');
    assert.equal(unknown.severity, 2, 'an id the Hub does not know is a warning');

    assert.ok(hub.requests.length > 0 && hub.requests.every((r) => r.authorization === 'Bearer hf_lineage_test'), 'HF_TOKEN goes to the endpoint');
    assert.equal(infoRequests(hub, 'acme/hub-safe'), infoRequests(hub, 'acme/hub-pickle'), 'two spellings of one id share a lookup');

    const hover = await lsp.hover(uri, LINES.safe, 50);
    assert.ok(hover && typeof hover.contents === 'object' && 'value' in hover.contents);
    assert.match(hover.contents.value, new RegExp(`\\*\\*Hub:\\*\\* acme\\\\/hub\\\\-safe at \`${SAFE_COMMIT}\` \\(the current commit of main\\) · 3 files\\\\: safetensors · licence apache\\\\-2\\\\\\.0`));
    assert.match(hover.contents.value, /\*\*Hub card base_model:\*\* sshleifer\\\/tiny\\-gpt2 \(declared by the card, not verified\)/);

    const unpinned = onLine(diagnostics, LINES.safe, 'LL003')!;
    assert.match(messageOf(unpinned), new RegExp(`The Hub's current commit of main is ${short}\\.$`));
    const actions = ((await lsp.codeActions(uri, unpinned.range, [unpinned])) ?? []) as CodeAction[];
    const pin = actions.find((a) => a.title.startsWith('Pin revision'));
    assert.equal(pin?.title, `Pin revision to ${short}… (the Hub's current commit of main)`);
    assert.deepEqual(pin.edit?.changes?.[uri]?.map((e) => e.newText), [`, revision="${SAFE_COMMIT}"`]);

    // LL007: the Hub expands transformers' short hash, so the fix writes a full commit LL003 accepts.
    const implicit = onLine(diagnostics, LINES.implicit, 'LL007')!;
    const named = ((await lsp.codeActions(uri, implicit.range, [implicit])) ?? []) as CodeAction[];
    const nameModel = named.find((a) => a.title.startsWith('Name the model explicitly'));
    assert.equal(nameModel?.title, `Name the model explicitly: model="distilbert/distilbert-base-uncased-finetuned-sst-2-english", revision ${SST2_COMMIT.slice(0, 12)}… (transformers' current default for "sentiment-analysis")`);
    assert.deepEqual(nameModel.edit?.changes?.[uri]?.map((e) => e.newText), [`, model="distilbert/distilbert-base-uncased-finetuned-sst-2-english", revision="${SST2_COMMIT}"`]);
    assert.ok(!named.some((a) => a.title.startsWith('Pin revision')), 'no revision is added to a pipeline without a model');

    // An edit analyses the document again: the answers come from the cache.
    const requestsBefore = hub.requests.length;
    await lsp.replace(uri, 2, `${DOCUMENT}# edited\n`);
    await lsp.waitForAnalyzed(uri, 2);
    assert.equal(hub.requests.length, requestsBefore);
  });

  it('uses the token the editor keeps in secret storage (lineage/hubToken) over HF_TOKEN, and asks again when it changes', async () => {
    client = await start();
    const lsp = client;
    await lsp.connection.sendNotification(HubTokenNotification.method, { token: 'hf_from_editor' });
    await lsp.open(uri, 'python', DOCUMENT);
    await lsp.waitFor('Hub facts', () => (/the Hub has it/.test(messageOf(onLine(lsp.diagnosticsOf(uri), LINES.safe, 'LL009'))) ? true : undefined));
    assert.ok(hub.requests.length > 0 && hub.requests.every((r) => r.authorization === 'Bearer hf_from_editor'), JSON.stringify(hub.requests.map((r) => r.authorization)));

    // Clearing it: cached answers are forgotten (a token changes what is visible) and HF_TOKEN applies again.
    hub.requests.length = 0;
    await lsp.connection.sendNotification(HubTokenNotification.method, {});
    await lsp.waitFor('the lookup asked again', () => (infoRequests(hub, 'acme/hub-safe') > 0 ? true : undefined));
    assert.ok(hub.requests.every((r) => r.authorization === 'Bearer hf_lineage_test'), JSON.stringify(hub.requests.map((r) => r.authorization)));
    assert.ok(!lsp.stderr.join('').includes('hf_from_editor'), 'the token is never logged');
  });

  it('sends no request to the Hub when lineage.offline is set', async () => {
    client = await start({ offline: true });
    await client.open(uri, 'python', DOCUMENT);
    await client.waitForAnalyzed(uri, 1, 90_000);
    const diagnostics = client.diagnosticsOf(uri);
    assert.equal(messageOf(onLine(diagnostics, LINES.safe, 'LL009')), 'acme/hub-safe is not downloaded.');
    assert.equal(onLine(diagnostics, LINES.unknown, 'LL009')?.severity, 4);
    assert.equal(onLine(diagnostics, LINES.pickle, 'LL005'), undefined);
    assert.equal(hub.requests.length, 0);
  });
});
