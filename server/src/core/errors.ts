// Typed errors of the engine. Every message names the file and what is wrong, so a user
// (or a CI log) can act on it without a stack trace.

/** A model file is malformed, truncated, hostile or in a form we do not read. */
export class ModelFormatError extends Error {
  readonly file: string;
  readonly offset?: number;
  constructor(file: string, message: string, offset?: number) {
    super(offset === undefined ? `${file}: ${message}` : `${file} (byte ${offset}): ${message}`);
    this.name = 'ModelFormatError';
    this.file = file;
    this.offset = offset;
  }
}

/** A reference could not be resolved to local files (not a format problem). */
export class ModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}

/** A request the engine cannot serve with what it was given (unsupported dtype, shape, ...). */
export class UnsupportedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedError';
  }
}

/** A fingerprint would read more weight bytes than the caller allows (a setting, not a fault of the model). */
export class FingerprintBudgetError extends Error {
  constructor(readonly model: string, readonly plannedBytes: number, readonly budgetBytes: number) {
    super(`${model}: the fingerprint would read ${plannedBytes} bytes of weights, more than the budget of ${budgetBytes} bytes`);
    this.name = 'FingerprintBudgetError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
