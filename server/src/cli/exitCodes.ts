// Exit codes of `lineage`, stable so that CI jobs can gate on them (documented in the README).

export const ExitCode = {
  /** Success; for compare/scan: a related model was found. */
  ok: 0,
  /** compare/scan finished and found no lineage relation. */
  notRelated: 1,
  /** check: findings at the --fail-on level, or lock drift with --locked (the same value as notRelated). */
  findings: 1,
  /** Bad command line. */
  usage: 2,
  /** A model could not be read, or the verdict is inconclusive. */
  unreadable: 3,
  /** --fail-on-danger: a model carries dangerous security findings (whatever the verdict). */
  dangerous: 4,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** Thrown for command-line mistakes; main() prints the message and the command's usage. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
