/**
 * How the CLI reports failures: one line `gliner2: error: <what and where>` on stderr and a non-zero exit code.
 * User mistakes (bad flags, files, schemas, inputs, checkpoints) never show a stack trace; an unexpected
 * internal error says so and shows its stack only with --debug.
 */
import { Gliner2Error } from "../errors.js";
import { safeMessage } from "../quote.js";

/** Exit codes: 1 = bad data/model/schema/input, 2 = bad command line, 70 = internal error (EX_SOFTWARE). */
export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 70 } as const;

/** The command line itself is wrong: unknown flag, missing value, conflicting options. */
export class UsageError extends Gliner2Error {
  readonly command: string;
  constructor(command: string, message: string) {
    super("USAGE", message);
    this.command = command;
  }
}

/** Lines to print and the exit code for an error that ended a command. */
export function describeError(err: unknown, debug: boolean): { lines: string[]; exitCode: number } {
  if (err instanceof UsageError) {
    const help = err.command === "gliner2" ? "gliner2 --help" : `gliner2 ${err.command} --help`;
    return { lines: [`gliner2: error: ${err.message} (see ${help})`], exitCode: EXIT.usage };
  }
  if (err instanceof Gliner2Error) {
    const lines = [`gliner2: error: ${oneLine(err.message)}`];
    if (debug && err.stack) lines.push(err.stack);
    return { lines, exitCode: EXIT.failure };
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`gliner2: internal error: ${oneLine(message)}${debug ? "" : " (run with --debug for the stack trace)"}`];
  if (debug && err instanceof Error && err.stack) lines.push(err.stack);
  return { lines, exitCode: EXIT.internal };
}

/** One line, control characters escaped, length capped (typed errors already are; internal ones may not be). */
function oneLine(s: string): string {
  return safeMessage(s.replace(/\s*\n\s*/g, " "));
}
