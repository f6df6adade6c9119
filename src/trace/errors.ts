// Errors meant for the user: the CLI prints `hvtrace: <message>` on one line and exits non-zero.
// Anything else that escapes is a bug and is reported as such (still one line unless HVTRACE_DEBUG).

export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** The trace file cannot be read as an hvtrace trace (corrupt, truncated, wrong version...). */
export class TraceFormatError extends UserError {
  constructor(message: string) {
    super(message, 3);
    this.name = 'TraceFormatError';
  }
}
