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

/** What a failed file-system call means for the user, by its errno code. */
const FILE_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a part of this path is a file, not a folder',
  EISDIR: 'is a folder, not a file',
  EEXIST: 'already exists',
  ENOENT: 'no such file or folder',
  EMFILE: 'too many open files',
};

/** 'problem (CODE)' for a file-system error code a user can act on; null for any other. */
export function errnoProblem(code: unknown): string | null {
  return typeof code === 'string' && code in FILE_PROBLEMS ? `${FILE_PROBLEMS[code]} (${code})` : null;
}

/** A Node file-system error (it carries `code` and `path`) as one line naming the path; other errors as null. */
export function fileSystemMessage(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  const { code, path, dest } = err as NodeJS.ErrnoException & { dest?: string };
  const problem = errnoProblem(code);
  return problem && typeof path === 'string' ? `${dest ?? path}: ${problem}` : null;
}
