// Which registries the language server consults, and with what credentials: the organisation registry's
// password from the editor's secret storage (lineage/registryPassword), held in memory only; each problem
// with a registry (unreachable host, bad password, a password written in settings) is reported once.
import { organisationRegistry, registrySources } from '../analysis/oracles/registryOracle';
import type { RegistrySource } from '../analysis/registryJobs';
import { REGISTRY_PASSWORD_SHAPE, type LineageSettings, type RegistryPasswordParams } from '../protocol';


export class RegistryAccess {
  private password: string | undefined;
  /** VS Code sends the stored password just after start: until then the organisation registry waits. */
  private passwordPending = false;
  private readonly reported = new Set<string>();

  constructor(
    /** Shows one problem to the user (it never contains a password). */
    private readonly show: (message: string) => void,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The client announced (initializationOptions.registryPasswordFromClient) that it sends the stored password. */
  expectPasswordFromClient(): void {
    this.passwordPending = true;
  }

  /** Takes the password the client sent; true when the registries to connect to changed. */
  setPassword(params: RegistryPasswordParams | undefined): boolean {
    const password = typeof params?.password === 'string' && REGISTRY_PASSWORD_SHAPE.test(params.password) ? params.password : undefined;
    const changed = this.passwordPending || password !== this.password;
    this.passwordPending = false;
    this.password = password;
    // New credentials: a failure seen before may be gone, a new one is news.
    if (changed) this.reported.clear();
    return changed;
  }

  sources(settings: LineageSettings): RegistrySource[] {
    const sources = registrySources(settings, this.env, this.password);
    return this.passwordPending ? sources.filter((s) => s.role !== 'organisation') : sources;
  }

  /** Reports what is wrong with the configured organisation registry URL (a password in it, not a URL). */
  checkSettings(settings: LineageSettings): void {
    const problem = organisationRegistry(settings, this.env).problem;
    if (problem !== undefined) this.report(problem);
  }

  /** Settings moved the registries: problems of the old ones are history. */
  forgetReported(): void {
    this.reported.clear();
  }

  report(problem: string): void {
    if (this.reported.has(problem)) return;
    this.reported.add(problem);
    this.show(problem);
  }
}
