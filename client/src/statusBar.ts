// Status bar item: how many models the workspace references, how many the registries know, and
// whether analysis is running; a click opens the Models view. Work is tracked from document changes
// to lineage/documentAnalyzed, the registry size from lineage/registryChanged.
import * as vscode from 'vscode';
import { Commands } from './constants';

/** An analysis that never reports back (server crash, cancelled pass) stops counting as running after this. */
const STALE_WORK_MS = 120_000;

export class LineageStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lineage.status', vscode.StatusBarAlignment.Left, 10);
  private readonly running = new Map<string, NodeJS.Timeout>();
  private modelCount: number | undefined;
  private registrySize: number | undefined;
  private problem: string | undefined;

  constructor() {
    this.item.name = 'Lineage Lens';
    this.item.command = Commands.showInventory;
    this.render();
    this.item.show();
  }

  setModelCount(count: number): void {
    this.modelCount = count;
    this.render();
  }

  setRegistrySize(entries: number): void {
    this.registrySize = entries;
    this.render();
  }

  setProblem(problem: string | undefined): void {
    this.problem = problem;
    this.render();
  }

  workStarted(uri: string): void {
    clearTimeout(this.running.get(uri));
    this.running.set(uri, setTimeout(() => this.workFinished(uri), STALE_WORK_MS));
    this.render();
  }

  workFinished(uri: string): void {
    clearTimeout(this.running.get(uri));
    if (this.running.delete(uri)) this.render();
  }

  get text(): string {
    return this.item.text;
  }

  get tooltip(): string {
    return typeof this.item.tooltip === 'string' ? this.item.tooltip : (this.item.tooltip?.value ?? '');
  }

  private render(): void {
    const busy = this.running.size > 0;
    const models = this.modelCount === undefined ? '' : ` ${this.modelCount} model${this.modelCount === 1 ? '' : 's'}`;
    const known = this.registrySize === undefined ? '' : ` · ${this.registrySize} known`;
    this.item.text = `${busy ? '$(sync~spin)' : this.problem ? '$(warning)' : '$(type-hierarchy)'} Lineage${models}${known}`;
    const lines = [
      this.modelCount === undefined ? 'Lineage Lens: listing model references…' : `Lineage Lens: ${this.modelCount} model(s) referenced in this workspace`,
      this.registrySize === undefined ? 'Registry: loading…' : `Registry: ${this.registrySize} known model(s) and tokenizer(s)`,
      busy ? `Fingerprinting and checking ${this.running.size} document(s)…` : 'Idle',
    ];
    if (this.problem) lines.push(this.problem);
    lines.push('Click to show the model inventory');
    this.item.tooltip = lines.join('\n');
  }

  dispose(): void {
    for (const timer of this.running.values()) clearTimeout(timer);
    this.item.dispose();
  }
}
