/**
 * An error caused by the user's input (a missing file, a wrong shape, a corrupt
 * header). The CLI prints its message without a stack trace and exits non-zero.
 */
export class ModlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModlError';
  }
}

/** Wraps any failure while handling `file` into a ModlError naming that file. */
export function fileError(file: string, problem: string): ModlError {
  return new ModlError(`${file}: ${problem}`);
}
