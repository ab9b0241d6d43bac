// Errors of the reference registry. A registry file is untrusted input like a model file: every
// fault names the file and says what to do next.

/** The registry file is unreadable, corrupt, of an unknown schema, or not a registry at all. */
export class RegistryError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'RegistryError';
    this.file = file;
  }
}
